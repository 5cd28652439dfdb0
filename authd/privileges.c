#include "authd/privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "authd/log.h"

int privileges_harden(char *err, size_t errlen)
{
	/* A core file would hold the TLS key, the shared secrets and MSKs. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "cannot harden the process: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Empties the bounding set, so that nothing exec'd could ever regain a
 * capability; needs CAP_SETPCAP, hence before the uid changes. The kernel's
 * last capability (which may be newer than these headers) is where
 * PR_CAPBSET_READ starts failing. */
static int drop_bounding_set(void)
{
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -1;
	}
	return 0;
}

static int become(const struct passwd *pw, char *err, size_t errlen)
{
	gid_t gid = pw->pw_gid;

	if (drop_bounding_set() < 0 || setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
		snprintf(err, errlen, "cannot become user %s: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	/* Changing uid resets the dumpable flag to the system's default. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setresuid(0, 0, 0) == 0) {
		snprintf(err, errlen, "user %s: the privileges did not stay dropped", pw->pw_name);
		return -1;
	}
	log_msg(LOG_INFO, "running as user %s (uid %u, gid %u), no capabilities", pw->pw_name,
	        (unsigned)pw->pw_uid, (unsigned)gid);
	return 0;
}

int privileges_drop(const char *user, char *err, size_t errlen)
{
	const char *name = user != NULL ? user : PRIVILEGES_DEFAULT_USER;
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (geteuid() != 0) {
		if (user != NULL && (pw == NULL || pw->pw_uid != geteuid())) {
			snprintf(err, errlen, "user = \"%s\", but authd runs as uid %u, not root: it cannot "
			         "change user", user, (unsigned)geteuid());
			return -1;
		}
		return 0;
	}
	if (pw == NULL && user == NULL) {
		log_msg(LOG_WARNING, "running as root: there is no user %s to run as (the package creates "
		        "it; or name one with `user`)", name);
		return 0;
	}
	if (pw == NULL) {
		snprintf(err, errlen, "user = \"%s\": no such user%s%s", name, errno != 0 ? ": " : "",
		         errno != 0 ? strerror(errno) : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_msg(LOG_WARNING, "user = \"%s\": running as root, with every privilege a flaw could use", name);
		return 0;
	}
	return become(pw, err, errlen);
}
