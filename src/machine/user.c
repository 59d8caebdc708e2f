/*
 * user.c: a client's memory as the driver sees it during one call.
 *
 * copy_from_user and copy_to_user are process_vm_readv and
 * process_vm_writev of the client: a range not wholly readable (or
 * writable) there is -EFAULT, as a short copy is in the kernel.
 * process_vm_readv needs ptrace access to the client; the runtime grants
 * it with PR_SET_PTRACER where Yama asks for that.
 *
 * ADD_PAGES' VMA check.  The kernel looks up the first mapping that ends
 * above the source address (find_vma(), which may start above it) and
 * refuses a mapping without VM_MAYEXEC (a file of a noexec mount) with
 * -EACCES.  VM_MAYEXEC is not in /proc/PID/maps, but /proc/PID/smaps
 * prints it ("me" in VmFlags), so the check reads smaps, record by record
 * until the mapping is found, and keeps the answer for the rest of the
 * call's pages in that mapping.
 *
 * signal_pending.  The client's thread sends CANCEL when a signal
 * interrupts its wait; a connection that hangs up (the client died) is a
 * pending signal too (the kernel's fatal_signal_pending()).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "machine/machine_internal.h"

/* Above the last user address (x86-64 TASK_SIZE_MAX, rounded up): the gate area. */
#define USER_SPACE_END 0x800000000000ULL

static int user_copy_from(void *ctx, void *dst, uint64_t uaddr, size_t len)
{
	struct m_call *call = ctx;
	struct iovec local = { dst, len }, remote = { (void *)(uintptr_t)uaddr, len };
	ssize_t n;

	if (!len)
		return 0;
	n = process_vm_readv(call->pid, &local, 1, &remote, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

static int user_copy_to(void *ctx, uint64_t uaddr, const void *src, size_t len)
{
	struct m_call *call = ctx;
	struct iovec local = { (void *)src, len }, remote = { (void *)(uintptr_t)uaddr, len };
	ssize_t n;

	if (!len)
		return 0;
	n = process_vm_writev(call->pid, &local, 1, &remote, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* find_vma(uaddr) in the client's smaps: fills the call's cache with the
 * mapping found and whether it may be executed. */
static int smaps_lookup(struct m_call *call, uint64_t uaddr)
{
	char path[64], line[512];
	uint64_t start = 0, end = 0;
	bool found = false;
	int ret = -EFAULT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)call->pid);
	f = fopen(path, "re");
	if (!f)
		return -EFAULT;
	while (fgets(line, sizeof(line), f)) {
		uint64_t s, e;

		if (!found) {
			/* A mapping's first line: "start-end perms ...". */
			/* The vsyscall page is listed last but is no VMA
			 * of the process (find_vma() never returns it). */
			if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &s, &e) == 2 && e > uaddr &&
			    s < USER_SPACE_END && strchr(line, '-') < strchr(line, ' ')) {
				found = true;
				start = s;
				end = e;
			}
			continue;
		}
		if (strncmp(line, "VmFlags:", 8))
			continue;
		ret = strstr(line + 8, " me") ? 0 : -EACCES;
		break;
	}
	fclose(f);
	if (!found)
		return -EFAULT;
	call->vma_valid = true;
	call->vma_start = start;
	call->vma_end = end;
	call->vma_ret = ret;
	return ret;
}

static int user_source_check(void *ctx, uint64_t uaddr)
{
	struct m_call *call = ctx;

	if (call->vma_valid && uaddr >= call->vma_start && uaddr < call->vma_end)
		return call->vma_ret;
	return smaps_lookup(call, uaddr);
}

static bool user_signal_pending(void *ctx)
{
	struct m_call *call = ctx;
	struct pollfd p = { .fd = call->conn->fd, .events = POLLIN };
	struct sgxp_hdr h;

	while (!call->cancelled) {
		if (poll(&p, 1, 0) <= 0)
			return false;
		if (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) {
			call->cancelled = true;
			break;
		}
		if (recv(call->conn->fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT) < (ssize_t)sizeof(h) ||
		    h.op != SGXP_CANCEL)
			return false; /* not ours to take: the loop reads it later */
		(void)recv(call->conn->fd, &h, sizeof(h), MSG_DONTWAIT);
		if (h.seq == call->seq)
			call->cancelled = true;
		/* An older call's CANCEL that came after its reply: dropped. */
	}
	return true;
}

static bool user_is_provision_fd(void *ctx, uint64_t fd)
{
	struct m_call *call = ctx;

	return call->aux_valid && call->aux_fd == fd && call->aux_is_provision;
}

void m_call_user(struct m_call *call, struct sgx_drv_user *u)
{
	u->ctx = call;
	u->copy_from = user_copy_from;
	u->copy_to = user_copy_to;
	u->source_check = user_source_check;
	u->signal_pending = user_signal_pending;
	u->is_provision_fd = user_is_provision_fd;
}
