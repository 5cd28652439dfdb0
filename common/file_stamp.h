/*
 * What a file is on disk now, to notice that it was replaced: its device,
 * inode, size and modification time. A renewal that writes a new file and
 * renames it over the old one changes the inode even when a copy kept the
 * old modification time.
 */
#ifndef COMMON_FILE_STAMP_H
#define COMMON_FILE_STAMP_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

struct file_stamp {
	bool exists;                /* false: stat failed (missing, unreadable directory) */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* The stamp of path now (exists false when it cannot be stat'ed). */
struct file_stamp file_stamp_of(const char *path);
bool file_stamp_equal(const struct file_stamp *a, const struct file_stamp *b);

#endif
