/*
 * redis_tamper --port-file F --redis PORT --mode-file M — a Redis writer in
 * the middle, for tests of what authd does with values it did not write.
 *
 * Listens on 127.0.0.1 (port chosen by the kernel, written to F via F.tmp)
 * and relays every connection to the redis-server on 127.0.0.1:PORT. Each
 * SET of a key containing "tls-session:" is rewritten on its way according
 * to the first line of M, read at that moment:
 *   pass          unchanged
 *   flip          one character in the middle of the value changed
 *   replace FILE  the value replaced by FILE's contents (without a final newline)
 * so a test can alter the session a device is about to offer, deterministically,
 * between the handshake that stores it and the one that resumes it. Each
 * rewrite is reported on stderr. Everything else passes as it is. Serves until
 * SIGTERM. Exit status 2 on usage or setup errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 32
#define MAX_ARGS 16
#define BUF_MAX (1 << 20)

struct pair {
	int client, upstream;
	char *in;          /* bytes from the client not yet relayed */
	size_t len;
};

static const char *mode_file;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("redis_tamper: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A file's contents, malloc'd, final newline dropped. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(BUF_MAX);

	*len = 0;
	if (f == NULL || buf == NULL) {
		if (f != NULL)
			fclose(f);
		free(buf);
		return NULL;
	}
	*len = fread(buf, 1, BUF_MAX - 1, f);
	fclose(f);
	while (*len > 0 && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r'))
		(*len)--;
	buf[*len] = '\0';
	return buf;
}

/* The new value for a session SET, or NULL to leave it (malloc'd otherwise). */
static char *rewrite(const char *key, size_t keylen, const char *value, size_t vlen, size_t *newlen)
{
	size_t mlen;
	char *mode = slurp(mode_file, &mlen), *out = NULL;

	if (mode == NULL)
		return NULL;
	mode[strcspn(mode, "\n")] = '\0';
	if (strcmp(mode, "flip") == 0 && vlen > 0 && (out = malloc(vlen)) != NULL) {
		memcpy(out, value, vlen);
		out[vlen / 2] = out[vlen / 2] == 'A' ? 'B' : 'A';
		*newlen = vlen;
	} else if (strncmp(mode, "replace ", 8) == 0) {
		out = slurp(mode + 8, newlen);
	}
	if (out != NULL)
		fprintf(stderr, "redis_tamper: %s: SET %.*s rewritten\n", mode, (int)keylen, key);
	free(mode);
	return out;
}

/* Length of one complete RESP multibulk command at p (n bytes), its
 * arguments in args/lens; 0 when incomplete, -1 when not a multibulk. */
static long parse_command(const char *p, size_t n, const char **args, size_t *lens, int *argc)
{
	const char *end = p + n, *q = p, *nl;
	long count;

	if (n == 0)
		return 0;
	if (*q != '*')
		return -1;
	if ((nl = memchr(q, '\n', n)) == NULL)
		return 0;
	count = strtol(q + 1, NULL, 10);
	if (count < 1 || count > MAX_ARGS)
		return -1;
	q = nl + 1;
	for (long i = 0; i < count; i++) {
		long len;

		if (q >= end)
			return 0;
		if (*q != '$')
			return -1;
		if ((nl = memchr(q, '\n', (size_t)(end - q))) == NULL)
			return 0;
		len = strtol(q + 1, NULL, 10);
		if (len < 0 || len > BUF_MAX)
			return -1;
		q = nl + 1;
		if (end - q < len + 2)
			return 0;
		args[i] = q;
		lens[i] = (size_t)len;
		q += len + 2;
	}
	*argc = (int)count;
	return q - p;
}

static int send_command(int fd, int argc, const char **args, const size_t *lens)
{
	char head[32];

	snprintf(head, sizeof(head), "*%d\r\n", argc);
	if (write_all(fd, head, strlen(head)) < 0)
		return -1;
	for (int i = 0; i < argc; i++) {
		snprintf(head, sizeof(head), "$%zu\r\n", lens[i]);
		if (write_all(fd, head, strlen(head)) < 0 || write_all(fd, args[i], lens[i]) < 0 ||
		    write_all(fd, "\r\n", 2) < 0)
			return -1;
	}
	return 0;
}

/* Relays every complete command buffered from the client. -1: close. */
static int relay_commands(struct pair *pr)
{
	size_t off = 0;

	for (;;) {
		const char *args[MAX_ARGS];
		size_t lens[MAX_ARGS];
		int argc = 0;
		long n = parse_command(pr->in + off, pr->len - off, args, lens, &argc);

		if (n < 0) {
			/* Not a multibulk: pass everything on as it is. */
			if (write_all(pr->upstream, pr->in + off, pr->len - off) < 0)
				return -1;
			off = pr->len;
			break;
		}
		if (n == 0)
			break;
		if (argc >= 3 && lens[0] == 3 && strncasecmp(args[0], "SET", 3) == 0 &&
		    memmem(args[1], lens[1], "tls-session:", 12) != NULL) {
			size_t newlen = 0;
			char *value = rewrite(args[1], lens[1], args[2], lens[2], &newlen);

			if (value != NULL) {
				args[2] = value;
				lens[2] = newlen;
			}
			n = send_command(pr->upstream, argc, args, lens) < 0 ? -1 : n;
			free(value);
			if (n < 0)
				return -1;
		} else if (write_all(pr->upstream, pr->in + off, (size_t)n) < 0) {
			return -1;
		}
		off += (size_t)n;
	}
	memmove(pr->in, pr->in + off, pr->len - off);
	pr->len -= off;
	return 0;
}

static void close_pair(struct pair *pr)
{
	close(pr->client);
	close(pr->upstream);
	free(pr->in);
	memset(pr, 0, sizeof(*pr));
	pr->client = pr->upstream = -1;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *redis_port = NULL;
	struct pair pairs[MAX_PAIRS];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char tmp[4096];
	FILE *f;
	int lfd;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--redis") == 0)
			redis_port = argv[i + 1];
		else if (strcmp(argv[i], "--mode-file") == 0)
			mode_file = argv[i + 1];
	}
	if (port_file == NULL || redis_port == NULL || mode_file == NULL)
		die("usage: redis_tamper --port-file F --redis PORT --mode-file M");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < MAX_PAIRS; i++)
		pairs[i] = (struct pair){ .client = -1, .upstream = -1 };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 16) < 0 || getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0)
		die("listen: %s", strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
	if ((f = fopen(tmp, "w")) == NULL)
		die("%s: %s", tmp, strerror(errno));
	fprintf(f, "%u\n", ntohs(sin.sin_port));
	if (fclose(f) != 0 || rename(tmp, port_file) < 0)
		die("%s: %s", port_file, strerror(errno));
	while (!stop) {
		struct pollfd fds[1 + 2 * MAX_PAIRS];
		int n = 1;

		fds[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < MAX_PAIRS; i++) {
			fds[n++] = (struct pollfd){ .fd = pairs[i].client, .events = POLLIN };
			fds[n++] = (struct pollfd){ .fd = pairs[i].upstream, .events = POLLIN };
		}
		if (poll(fds, (nfds_t)n, 500) < 0)
			continue;
		if (fds[0].revents & POLLIN) {
			int c = accept(lfd, NULL, NULL), u = socket(AF_INET, SOCK_STREAM, 0), slot = -1;
			struct sockaddr_in up = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(redis_port)) };

			up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
				slot = pairs[i].client < 0 ? i : -1;
			if (c < 0 || u < 0 || slot < 0 || connect(u, (struct sockaddr *)&up, sizeof(up)) < 0) {
				if (c >= 0)
					close(c);
				if (u >= 0)
					close(u);
			} else {
				pairs[slot] = (struct pair){ .client = c, .upstream = u, .in = malloc(BUF_MAX) };
				if (pairs[slot].in == NULL)
					close_pair(&pairs[slot]);
			}
		}
		for (int i = 0; i < MAX_PAIRS; i++) {
			struct pair *pr = &pairs[i];
			short cr = fds[1 + 2 * i].revents, ur = fds[2 + 2 * i].revents;
			ssize_t r;

			if (pr->client < 0)
				continue;
			if (ur & (POLLIN | POLLHUP | POLLERR)) {
				r = read(pr->upstream, tmp, sizeof(tmp));
				if (r <= 0 || write_all(pr->client, tmp, (size_t)r) < 0) {
					close_pair(pr);
					continue;
				}
			}
			if (cr & (POLLIN | POLLHUP | POLLERR)) {
				r = pr->len < BUF_MAX ? read(pr->client, pr->in + pr->len, BUF_MAX - pr->len) : -1;
				if (r <= 0) {
					close_pair(pr);
					continue;
				}
				pr->len += (size_t)r;
				if (relay_commands(pr) < 0)
					close_pair(pr);
			}
		}
	}
	return 0;
}
