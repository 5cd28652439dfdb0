#include "common/file_stamp.h"

#include <sys/stat.h>

struct file_stamp file_stamp_of(const char *path)
{
	struct file_stamp f = { 0 };
	struct stat st;

	if (stat(path, &st) == 0)
		f = (struct file_stamp){ .exists = true, .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
		                         .mtime = st.st_mtim };
	return f;
}

bool file_stamp_equal(const struct file_stamp *a, const struct file_stamp *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}
