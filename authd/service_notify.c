#include "authd/service_notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "authd/log.h"

/* Set once by service_notify_init before threads exist, read-only afterwards. */
static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static uint64_t watchdog_usec;

/* The socket named by $NOTIFY_SOCKET: a path, or "@name" in the abstract
 * namespace. 0, or -1 when the name cannot be a Unix socket address. */
static int parse_address(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= sizeof(notify_addr.sun_path) || (name[0] != '/' && name[0] != '@'))
		return -1;
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, name, len);
	if (name[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	return 0;
}

static void read_watchdog(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (usec == NULL)
		return;
	/* WATCHDOG_PID names the process the manager watches: another's
	 * interval is not ours to keep. */
	if (pid != NULL && strtoll(pid, NULL, 10) != (long long)getpid())
		return;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || end == usec || *end != '\0' || v == 0) {
		log_msg(LOG_WARNING, "WATCHDOG_USEC=%s is not a number of microseconds: no watchdog", usec);
		return;
	}
	watchdog_usec = v;
}

void service_notify_init(void)
{
	const char *name = getenv("NOTIFY_SOCKET");

	if (name != NULL) {
		if (parse_address(name) < 0)
			log_msg(LOG_WARNING, "NOTIFY_SOCKET=%s is not a Unix socket address: the service manager "
			        "will not hear from authd", name);
		else if ((notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			log_msg(LOG_WARNING, "cannot reach the service manager: %s", strerror(errno));
		else
			read_watchdog();
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

void service_notify(const char *state)
{
	if (notify_fd < 0)
		return;
	if (sendto(notify_fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&notify_addr,
	           notify_len) < 0)
		log_msg(LOG_DEBUG, "service manager notification failed: %s", strerror(errno));
}

void service_notify_reloading(void)
{
	struct timespec now;
	char state[64];

	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	         (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);
	service_notify(state);
}

uint64_t service_watchdog_usec(void)
{
	return notify_fd >= 0 ? watchdog_usec : 0;
}
