/*
 * `authd --explain`: what a device would get, without a handshake. The tool
 * an admin runs before and after changing rules; it uses the live directory.
 */
#ifndef AUTHD_EXPLAIN_H
#define AUTHD_EXPLAIN_H

#include "authd/config.h"

struct explain_request {
	const char *cert_file;      /* PEM: the device certificate, optionally followed by its chain */
	const char *eap_identity;   /* NULL: assume the device sends its certificate identity */
	const char *nas;            /* client name; NULL: none */
	unsigned nas_port_type;     /* 0: not sent */
	const char *ssid;           /* NULL: not sent */
};

#define EXPLAIN_ACCEPT 0
#define EXPLAIN_REJECT 3
#define EXPLAIN_ERROR  1

/* Prints the explanation on stdout; returns one of the EXPLAIN_ codes. */
int explain_run(const struct authd_config *cfg, const struct explain_request *req);

#endif
