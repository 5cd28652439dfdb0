/*
 * notify_listen PATH — the receiving end of the service manager's notify
 * socket (sd_notify(3)), for tests of what authd tells systemd: systemd
 * itself cannot run as PID 1 here.
 *
 * Binds a Unix datagram socket at PATH and prints each datagram on a line of
 * its own, its newlines shown as spaces, until SIGTERM. Exit status 2 on
 * usage or setup errors.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char buf[4096];
	ssize_t n;
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: notify_listen PATH\n");
		return 2;
	}
	memcpy(addr.sun_path, argv[1], strlen(argv[1]));
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("notify_listen");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) >= 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n')
				buf[i] = ' ';
		}
		buf[n] = '\0';
		puts(buf);
	}
	perror("notify_listen");
	return 1;
}
