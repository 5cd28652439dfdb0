/*
 * What a backend's calls came to, told to whoever watches without knowing
 * who: the Redis pool, the LDAP directory, the OCSP client and the CRL store
 * report each call to one of their targets (a server, a URI, a responder, a
 * file) here, and authd turns that into metrics. A backend holds a copy of
 * the observer; all zero (call NULL) watches nothing (tests, authctl).
 */
#ifndef COMMON_BACKEND_OBSERVER_H
#define COMMON_BACKEND_OBSERVER_H

enum backend_result {
	BACKEND_OK,          /* the target answered */
	BACKEND_ERROR,       /* refused, failed, or answered with an error */
	BACKEND_TIMEOUT,     /* the backend's deadline passed without an answer */
};

struct backend_observer {
	/* One call to target (the backend's own numbering: its n-th configured
	 * server, URI or file; an OCSP responder's slot) that took `seconds`.
	 * Runs on the backend's threads, sometimes under its locks: it must be
	 * quick and take no lock. */
	void (*call)(void *arg, unsigned target, enum backend_result result, double seconds);
	/* A target named at run time (an OCSP responder's URL, when a slot is
	 * first taken): once per target, in target order, before its first
	 * call, under the backend's lock. name is borrowed for the call. NULL:
	 * the targets are known from the configuration. */
	void (*named)(void *arg, unsigned target, const char *name);
	void *arg;
};

/* Reports a call that started at started_ms (clock_now_ms_precise()). A
 * NULL observer or call: nothing. */
void backend_observer_report(const struct backend_observer *o, unsigned target, enum backend_result result,
                             double started_ms);

#endif
