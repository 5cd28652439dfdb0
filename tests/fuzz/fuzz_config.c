/*
 * libFuzzer target for the config loaders: authd/config.c config_load and
 * authd/authctl_config.c authctl_config_load, on a file written from the
 * input. Whatever the file holds they must return 0 or -1 with a message,
 * never crash, and leave nothing behind (config_free frees all; a refusal
 * holds nothing to free).
 *
 * Input: the file, given to both loaders (so the example configs are seeds
 * as they are). It is written into a directory of this process's
 * own (mkdtemp, removed at exit), next to links to the test PKI's files
 * (when AUTHD_TEST_PKI_DIR is set) and a secret file, so that the relative
 * paths of authd/authd.conf.example resolve and loading gets past them.
 * Inputs naming devices or kernel files (@include, /dev/, /proc/, /sys/)
 * are skipped: reading /dev/zero would hang any loader, and is the admin's
 * own doing.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authd/authctl_config.h"
#include "authd/config.h"

static char dir[4096];
static char conf[4200];

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4400];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void link_file(const char *target, const char *name)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (symlink(target, path) < 0)
		abort();
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR"), *pki = getenv("AUTHD_TEST_PKI_DIR");
	char path[4400];
	DIR *d;
	struct dirent *e;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/fuzz_config.XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(remove_dir);
	snprintf(conf, sizeof(conf), "%s/fuzzed.conf", dir);
	if (pki != NULL && (d = opendir(pki)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", pki, e->d_name);
			link_file(path, e->d_name);
		}
		closedir(d);
		snprintf(path, sizeof(path), "%s/ca-bundle.pem", pki);
		link_file(path, "ldap-ca.pem");
	}
	snprintf(path, sizeof(path), "%s/ldap.secret", dir);
	f = fopen(path, "w");
	if (f == NULL || fchmod(fileno(f), 0600) < 0 || fputs("a-directory-password\n", f) < 0)
		abort();
	fclose(f);
}

static int skipped(const uint8_t *data, size_t size)
{
	static const char *const words[] = { "@include", "/dev/", "/proc/", "/sys/" };

	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		size_t n = strlen(words[w]);

		for (size_t i = 0; i + n <= size; i++)
			if (strncasecmp((const char *)data + i, words[w], n) == 0)
				return 1;
	}
	return 0;
}

/* A refusal always says why, in a NUL-terminated message. */
static void check(int rc, const char *err, size_t errlen)
{
	if (rc != 0 && rc != -1)
		abort();
	if (rc < 0 && (err[0] == '\0' || memchr(err, '\0', errlen) == NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authctl_config ctl;
	struct authd_config cfg;
	char err[1024];
	FILE *f;
	int rc;

	if (dir[0] == '\0')
		setup();
	if (skipped(data, size))
		return 0;
	f = fopen(conf, "w");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	err[0] = '\0';
	rc = config_load(conf, &cfg, err, sizeof(err));
	check(rc, err, sizeof(err));
	if (rc == 0)
		config_free(&cfg);
	err[0] = '\0';
	rc = authctl_config_load(conf, &ctl, err, sizeof(err));
	check(rc, err, sizeof(err));
	if (rc == 0)
		authctl_config_free(&ctl);
	unlink(conf);
	return 0;
}
