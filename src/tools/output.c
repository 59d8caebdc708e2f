/*
 * output.c: how the sgxemu command writes a file, once for every command.
 *
 * A file the command writes never destroys one the user had:
 *   - an existing output is refused unless the command was given --force;
 *   - an output that is one of the command's inputs (the same inode, under
 *     whatever name) is refused even with --force;
 *   - an output that is not a regular file (a FIFO, a directory, a device,
 *     a socket) is refused by its lstat()/stat() answer, never opened, so
 *     the command cannot block on a FIFO that has no reader;
 *   - the bytes go to a temporary file created exclusively in the output's
 *     directory, are fsync()ed, and the temporary file is renamed onto the
 *     output: a reader sees the old file or the whole new one, and a
 *     failure at any point removes the temporary file and leaves the old
 *     output as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/tools.h"

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

int tool_check_output(const struct tool_output *o, const char *path)
{
	struct stat st, in;

	if (!path[0])
		return tool_error(o->cmd, "an empty output file name");
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT && path[strlen(path) - 1] == '/')
			return tool_error(o->cmd, "%s: not a file name", path);
		if (errno == ENOENT)
			return 0;
		return tool_error(o->cmd, "%s: %s", path, strerror(errno));
	}
	/* A symbolic link is judged by what it points to (its kind, whether
	 * it is an input), but --force replaces the link itself: the file it
	 * pointed to is left as it was.  A dangling link is an existing
	 * output like any other. */
	if (S_ISLNK(st.st_mode) && stat(path, &st) < 0 && errno != ENOENT)
		return tool_error(o->cmd, "%s: %s", path, strerror(errno));
	if (!S_ISLNK(st.st_mode) && !S_ISREG(st.st_mode))
		return tool_error(o->cmd, "%s: %s; the output must be a regular file", path,
				    file_kind(st.st_mode));
	for (size_t i = 0; i < o->nr_inputs; i++) {
		if (!o->inputs[i] || stat(o->inputs[i], &in) < 0)
			continue;
		if (in.st_dev == st.st_dev && in.st_ino == st.st_ino)
			return tool_error(o->cmd, "%s: is the input %s; not writing over an input",
					    path, o->inputs[i]);
	}
	if (!o->force)
		return tool_error(o->cmd, "%s: already exists; not replacing it without --force", path);
	return 0;
}

/* Where the temporary file goes: the output's own directory, so rename()
 * stays within one file system. */
static int temp_template(const char *path, char *tmpl, size_t len)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (slash)
		n = snprintf(tmpl, len, "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1);
	else
		n = snprintf(tmpl, len, ".%s.XXXXXX", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The output's directory made durable after the rename, best effort: the
 * file's own bytes were synced already. */
static void sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >= (int)sizeof(dir))
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

/* Puts tmp in place of path: without --force never over a file that
 * appeared since the checks (RENAME_NOREPLACE, or link() where the file
 * system lacks it). */
static int put_in_place(const char *tmp, const char *path, bool force)
{
	if (force)
		return rename(tmp, path) < 0 ? -errno : 0;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(tmp, path) < 0)
		return -errno;
	unlink(tmp);
	return 0;
}

int tool_write_output(const struct tool_output *o, const char *path, const void *buf,
		      size_t len)
{
	char tmpl[PATH_MAX];
	mode_t mask;
	int fd, ret;

	ret = tool_check_output(o, path);
	if (ret)
		return ret;
	if (temp_template(path, tmpl, sizeof(tmpl)))
		return tool_error(o->cmd, "%s: %s", path, strerror(ENAMETOOLONG));
	/* mkostemp() opens with O_CREAT | O_EXCL and mode 0600. */
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return tool_error(o->cmd, "%s: cannot create a temporary file beside it: %s", path,
				  strerror(errno));
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, o->mode & ~mask) < 0) {
		ret = tool_error(o->cmd, "%s: %s", path, strerror(errno));
		goto fail;
	}
	ret = write_all(fd, buf, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (ret) {
		ret = tool_error(o->cmd, "%s: cannot write: %s", path, strerror(-ret));
		goto fail;
	}
	/* close() releases fd whatever it answers. */
	if (close(fd) < 0) {
		fd = -1;
		ret = tool_error(o->cmd, "%s: cannot write: %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	ret = put_in_place(tmpl, path, o->force);
	if (ret) {
		if (ret == -EEXIST)
			ret = tool_error(o->cmd, "%s: already exists; not replacing it without --force",
					 path);
		else
			ret = tool_error(o->cmd, "%s: %s", path, strerror(-ret));
		goto fail;
	}
	sync_dir(path);
	return 0;

fail:
	if (fd >= 0)
		close(fd);
	unlink(tmpl);
	return ret;
}
