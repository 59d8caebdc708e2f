/*
 * test_machine_stats.c: STATS_LIST (proto.h) through the runtime: lists
 * longer than one datagram come whole and in key order, the entries are
 * the machine's true figures, malformed requests get -EINVAL, and the
 * runtime's decoder refuses replies that break the protocol.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include "machine_helpers.h"

/* More enclave files than one reply holds: every one listed once, in id
 * order, each with its own figures, and the process list agrees. */
TEST(enclave_list_spans_datagrams)
{
	enum { N = 40 }; /* 25 entries fit one datagram */
	struct sgxp_encl_entry e[N + 4];
	struct sgxp_proc_entry p[4];
	struct sgxp_node_entry nodes[SGX_MAX_EPC_SECTIONS];
	struct sgxp_machine_stats st;
	uint64_t in_use = 0, nodes_total = 0;
	size_t count;
	int fds[N];

	mh_start_ex("2M", NULL);
	for (int i = 0; i < N; i++) {
		fds[i] = mh_open();
		/* Enclave i has i % 3 + 1 RW pages and no TCS; the last is
		 * only opened. */
		if (i < N - 1)
			CHECK_EQ(mh_build(fds[i], (uint64_t)i, (uint64_t)(i % 3 + 1), 0, false), 0);
	}
	CHECK_EQ(sgxrt_machine_list(SGXP_LIST_ENCLAVES, e, sizeof(e[0]), N + 4, &count), 0);
	CHECK_EQ(count, N);
	mh_stats(&st);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(e[i].id, i ? e[i - 1].id + 1 : e[0].id);
		CHECK_EQ(e[i].handles, 1);
		CHECK_EQ(e[i].nr_owners, 1);
		CHECK_EQ(e[i].owners[0], getpid());
		if (i == N - 1) {
			CHECK_EQ(e[i].state, 0);
			CHECK_EQ(e[i].pages, 0);
			continue;
		}
		CHECK_EQ(e[i].state, SGXP_ENCL_CREATED);
		/* mh_build()'s size and base. */
		CHECK_EQ(e[i].size, (i % 3 + 1 > 2 ? 4 : 2) * SGX_PAGE_SIZE);
		CHECK_EQ(e[i].base, e[i].size * (1 + (uint64_t)i % 64));
		CHECK_EQ(e[i].pages, (uint64_t)(i % 3 + 1));
		CHECK_EQ(e[i].resident, e[i].pages);
		CHECK_EQ(e[i].secs_resident, 1);
		CHECK_EQ(e[i].va_pages, 1);
		CHECK_EQ(e[i].written_back, 0);
		in_use += e[i].resident + e[i].secs_resident + e[i].va_pages;
	}
	CHECK_EQ(in_use, st.epc_total - st.epc_free);
	CHECK_EQ(sgxrt_machine_list(SGXP_LIST_PROCESSES, p, sizeof(p[0]), 4, &count), 0);
	CHECK_EQ(count, 1);
	CHECK_EQ(p[0].pid, getpid());
	CHECK_EQ(p[0].handles, N);
	CHECK_EQ(p[0].descriptors, N);
	CHECK_EQ(p[0].enclaves, N);
	CHECK_EQ(p[0].epc_pages, in_use);
	CHECK_EQ(sgxrt_machine_list(SGXP_LIST_NODES, nodes, sizeof(nodes[0]), SGX_MAX_EPC_SECTIONS,
				    &count), 0);
	CHECK_EQ(count, st.nr_nodes);
	for (size_t i = 0; i < count; i++)
		nodes_total += nodes[i].total;
	CHECK_EQ(nodes_total, st.epc_total);
	/* A short buffer: the count is the machine's, only max stored. */
	CHECK_EQ(sgxrt_machine_list(SGXP_LIST_ENCLAVES, e, sizeof(e[0]), 3, &count), 0);
	CHECK_EQ(count, N);
	for (int i = 0; i < N; i++)
		CHECK_EQ(sgxrt_close(fds[i]), 0);
	mh_stats(&st); /* the releases done */
	CHECK_EQ(sgxrt_machine_list(SGXP_LIST_ENCLAVES, e, sizeof(e[0]), N, &count), 0);
	CHECK_EQ(count, 0);
	mh_finish();
}

/* Requests the machine must refuse: too short, an unknown list, flags set. */
TEST(malformed_list_requests_are_einval)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sgxp_stats_list q;
	uint64_t buf[SGXP_MAX_MSG / 8];
	const struct sgxp_stats_list_reply *r = (const void *)buf;
	int fd;

	mh_start();
	strcpy(sa.sun_path, sgxrt_machine_path());
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (int k = 0; k < 5; k++) {
		size_t len = sizeof(q);

		memset(&q, 0, sizeof(q));
		q.hdr.op = SGXP_STATS_LIST;
		q.hdr.seq = (uint64_t)k + 1;
		q.list = SGXP_LIST_ENCLAVES;
		if (k == 0)
			len = sizeof(q) - 1;
		else if (k == 1)
			q.list = 0;
		else if (k == 2)
			q.list = 99;
		else if (k == 3)
			q.flags = 1;
		else
			len = sizeof(q.hdr);
		q.hdr.len = (uint32_t)len;
		CHECK_EQ(send(fd, &q, len, 0), (ssize_t)len);
		CHECK_EQ(recv(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(*r));
		CHECK_EQ(r->r.hdr.seq, (uint64_t)k + 1);
		CHECK_EQ(r->r.err, -EINVAL);
		CHECK_EQ(r->count, 0);
	}
	close(fd);
	mh_finish();
}

/* The decoder: a reply that claims more than it holds, names another list,
 * has a silly entry size, or goes on without moving forward is -EPROTO;
 * a machine's error passes through; longer entries are cut, shorter ones
 * filled with zeros. */
TEST(list_decoder_refuses_bad_replies)
{
	uint64_t buf[SGXP_MAX_MSG / 8];
	struct sgxp_stats_list_reply *r = (void *)buf;
	struct sgxp_node_entry out[4];
	uint8_t *at = (uint8_t *)buf + sizeof(*r);
	size_t stored;
	uint64_t next;

	memset(buf, 0, sizeof(buf));
	r->list = SGXP_LIST_NODES;
	r->entry_size = sizeof(struct sgxp_node_entry);
	r->count = 2;
	for (int i = 0; i < 2; i++) {
		struct sgxp_node_entry e = { .index = (uint64_t)i, .total = 10u + (uint64_t)i };

		memcpy(at + i * sizeof(e), &e, sizeof(e));
	}
	size_t n = sizeof(*r) + 2 * sizeof(struct sgxp_node_entry);

	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_NODES, 0, sizeof(out[0]), out, 4,
					 &stored, &next), 2);
	CHECK_EQ(stored, 2);
	CHECK_EQ(next, 0);
	CHECK_EQ(out[1].total, 11);
	/* Only max stored. */
	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_NODES, 0, sizeof(out[0]), out, 1,
					 &stored, &next), 2);
	CHECK_EQ(stored, 1);
	/* Truncated, another list, short reply. */
	CHECK_EQ(sgxrt_stats_list_decode(buf, n - 1, SGXP_LIST_NODES, 0, sizeof(out[0]), out, 4,
					 &stored, &next), -EPROTO);
	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_ENCLAVES, 0, sizeof(out[0]), out, 4,
					 &stored, &next), -EPROTO);
	CHECK_EQ(sgxrt_stats_list_decode(buf, sizeof(*r) - 1, SGXP_LIST_NODES, 0, sizeof(out[0]),
					 out, 4, &stored, &next), -EPROTO);
	/* A count that overflows 32 bits times the size. */
	r->count = 0xffffffffu;
	CHECK_EQ(sgxrt_stats_list_decode(buf, sizeof(buf), SGXP_LIST_NODES, 0, sizeof(out[0]), out,
					 4, &stored, &next), -EPROTO);
	r->count = 2;
	/* Entry sizes below a field and beyond a datagram. */
	r->entry_size = 4;
	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_NODES, 0, sizeof(out[0]), out, 4,
					 &stored, &next), -EPROTO);
	r->entry_size = SGXP_MAX_MSG + 8;
	CHECK_EQ(sgxrt_stats_list_decode(buf, sizeof(buf), SGXP_LIST_NODES, 0, sizeof(out[0]), out,
					 4, &stored, &next), -EPROTO);
	/* A shorter entry of an older machine: the rest is zero. */
	r->entry_size = 16;
	memset(out, 0xff, sizeof(out));
	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_NODES, 0, sizeof(out[0]), out, 4,
					 &stored, &next), 2);
	CHECK_EQ(out[0].total, 0);
	r->entry_size = sizeof(struct sgxp_node_entry);
	/* more without moving forward; more that is not 0 or 1. */
	r->more = 1;
	r->next = 5;
	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_NODES, 5, sizeof(out[0]), out, 4,
					 &stored, &next), -EPROTO);
	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_NODES, 4, sizeof(out[0]), out, 4,
					 &stored, &next), 2);
	CHECK_EQ(next, 5);
	r->more = 2;
	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_NODES, 0, sizeof(out[0]), out, 4,
					 &stored, &next), -EPROTO);
	r->more = 0;
	/* The machine's error, and one that is no errno. */
	r->r.err = -EINVAL;
	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_NODES, 0, sizeof(out[0]), out, 4,
					 &stored, &next), -EINVAL);
	r->r.err = 7;
	CHECK_EQ(sgxrt_stats_list_decode(buf, n, SGXP_LIST_NODES, 0, sizeof(out[0]), out, 4,
					 &stored, &next), -EPROTO);
	CHECK_EQ(sgxrt_stats_list_decode(NULL, n, SGXP_LIST_NODES, 0, sizeof(out[0]), out, 4,
					 &stored, &next), -EPROTO);
}
