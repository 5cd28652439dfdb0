#include "policy/crl_store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/cert_names.h"
#include "common/clock.h"
#include "common/file_stamp.h"
#include "common/strv.h"

struct crl_store {
	char **files;
	size_t n_files;
	char *ca_file;
	pthread_rwlock_t lock;          /* readers: lookups; writer: a reload swapping crls */
	STACK_OF(X509_CRL) *crls;
	struct file_stamp *stamps;      /* of each file at the last load */
	/* Of each file's CRL in force, mirrored for a scrape (no lock). */
	atomic_llong *next_update;
	struct backend_observer observer;   /* all zero: none */
};

static STACK_OF(X509) *read_ca(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509) *cas = sk_X509_new_null();
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL || cas == NULL) {
		snprintf(err, errlen, "%s: %s", path, f == NULL ? strerror(errno) : "out of memory");
		if (f != NULL)
			fclose(f);
		sk_X509_free(cas);
		return NULL;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(cas, x);
	ERR_clear_error();
	fclose(f);
	return cas;
}

X509_CRL *crl_store_parse(const unsigned char *bytes, size_t len, STACK_OF(X509) *cas,
                          X509 **signer, char *err, size_t errlen)
{
	const unsigned char *p = bytes;
	X509_CRL *crl = NULL;
	bool signed_ok = false;
	BIO *mem;

	if (signer != NULL)
		*signer = NULL;
	if (len > INT_MAX) {
		snprintf(err, errlen, "larger than %d bytes", INT_MAX);
		return NULL;
	}
	mem = BIO_new_mem_buf(bytes, (int)len);
	if (mem != NULL)
		crl = PEM_read_bio_X509_CRL(mem, NULL, NULL, NULL);
	BIO_free(mem);
	if (crl == NULL)
		crl = d2i_X509_CRL(NULL, &p, (long)len);
	ERR_clear_error();
	if (crl == NULL) {
		snprintf(err, errlen, "not a CRL (PEM or DER)");
		return NULL;
	}
	for (int i = 0; i < sk_X509_num(cas) && !signed_ok; i++) {
		X509 *ca = sk_X509_value(cas, i);

		signed_ok = X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) == 0 &&
		            X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1;
		if (signed_ok && signer != NULL && X509_up_ref(ca) == 1)
			*signer = ca;
	}
	ERR_clear_error();
	if (!signed_ok) {
		char issuer[256];

		cert_name_string(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
		snprintf(err, errlen, "no trusted CA (tls.ca) named %s signed this CRL", issuer);
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

/* The whole file in a malloc'd buffer (caller frees). NULL with errno. */
static unsigned char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL, *grown;
	size_t cap = 0, n;
	int saved;

	*len = 0;
	if (f == NULL)
		return NULL;
	do {
		if (*len == cap) {
			cap = cap ? cap * 2 : 16384;
			grown = realloc(buf, cap);
			if (grown == NULL)
				goto fail;
			buf = grown;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (n > 0);
	if (ferror(f)) {
		errno = EIO;
		goto fail;
	}
	fclose(f);
	return buf;
fail:
	saved = errno;
	free(buf);
	fclose(f);
	errno = saved;
	return NULL;
}

/* One CRL file, PEM or DER, whose signature a certificate of cas verifies;
 * that certificate in *signer when asked (caller frees). */
static X509_CRL *read_crl(const char *path, STACK_OF(X509) *cas, X509 **signer, char *err,
                          size_t errlen)
{
	char why[512];
	size_t len;
	unsigned char *bytes = read_whole(path, &len);
	X509_CRL *crl;

	if (bytes == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	crl = crl_store_parse(bytes, len, cas, signer, why, sizeof(why));
	free(bytes);
	if (crl == NULL)
		snprintf(err, errlen, "%s: %s", path, why);
	return crl;
}

static STACK_OF(X509_CRL) *load_all(struct crl_store *s, struct file_stamp *stamps,
                                    char *err, size_t errlen)
{
	STACK_OF(X509) *cas = read_ca(s->ca_file, err, errlen);
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	double started = clock_now_ms_precise();

	if (cas == NULL || crls == NULL)
		goto fail;
	for (size_t i = 0; i < s->n_files; i++) {
		X509_CRL *crl;

		stamps[i] = file_stamp_of(s->files[i]);
		if (!stamps[i].exists) {
			snprintf(err, errlen, "%s: %s", s->files[i], strerror(errno));
			backend_observer_report(&s->observer, (unsigned)i, BACKEND_ERROR, started);
			goto fail;
		}
		crl = read_crl(s->files[i], cas, NULL, err, errlen);
		if (crl == NULL || !sk_X509_CRL_push(crls, crl)) {
			backend_observer_report(&s->observer, (unsigned)i, BACKEND_ERROR, started);
			X509_CRL_free(crl);
			goto fail;
		}
	}
	sk_X509_pop_free(cas, X509_free);
	return crls;
fail:
	sk_X509_pop_free(cas, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return NULL;
}

/* Each file's CRL (s->crls[i] is files[i]'s) nextUpdate into next_update.
 * The caller holds the write lock, or is the only user yet. */
static void mirror_next_updates(struct crl_store *s)
{
	for (size_t i = 0; i < s->n_files; i++) {
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(sk_X509_CRL_value(s->crls, (int)i));
		struct tm tm;
		int64_t t = 0;

		if (next != NULL && ASN1_TIME_to_tm(next, &tm) == 1)
			t = (int64_t)timegm(&tm);
		atomic_store_explicit(&s->next_update[i], t, memory_order_relaxed);
	}
}

void crl_store_observe(struct crl_store *s, const struct backend_observer *o)
{
	s->observer = *o;
}

int64_t crl_store_next_update(const struct crl_store *s, size_t file)
{
	return atomic_load_explicit(&s->next_update[file], memory_order_relaxed);
}

struct crl_store *crl_store_new(const char *const *files, size_t n_files, const char *ca_file,
                                char *err, size_t errlen)
{
	struct crl_store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		goto oom;
	pthread_rwlock_init(&s->lock, NULL);
	s->files = calloc(n_files, sizeof(*s->files));
	s->stamps = calloc(n_files, sizeof(*s->stamps));
	s->next_update = calloc(n_files, sizeof(*s->next_update));
	s->ca_file = strdup(ca_file);
	if (s->files == NULL || s->stamps == NULL || s->next_update == NULL || s->ca_file == NULL)
		goto oom;
	for (; s->n_files < n_files; s->n_files++) {
		s->files[s->n_files] = strdup(files[s->n_files]);
		if (s->files[s->n_files] == NULL)
			goto oom;
	}
	s->crls = load_all(s, s->stamps, err, errlen);
	if (s->crls == NULL) {
		crl_store_free(s);
		return NULL;
	}
	mirror_next_updates(s);
	return s;
oom:
	snprintf(err, errlen, "out of memory");
	crl_store_free(s);
	return NULL;
}

void crl_store_free(struct crl_store *s)
{
	if (s == NULL)
		return;
	strv_free(s->files, s->n_files);
	free(s->stamps);
	free(s->next_update);
	free(s->ca_file);
	sk_X509_CRL_pop_free(s->crls, X509_CRL_free);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

int crl_store_reload(struct crl_store *s, char *err, size_t errlen)
{
	struct file_stamp *stamps = calloc(s->n_files, sizeof(*stamps));
	STACK_OF(X509_CRL) *crls = stamps != NULL ? load_all(s, stamps, err, errlen) : NULL;

	if (crls == NULL) {
		if (stamps == NULL)
			snprintf(err, errlen, "out of memory");
		free(stamps);
		return -1;
	}
	pthread_rwlock_wrlock(&s->lock);
	sk_X509_CRL_pop_free(s->crls, X509_CRL_free);
	s->crls = crls;
	free(s->stamps);
	s->stamps = stamps;
	mirror_next_updates(s);
	pthread_rwlock_unlock(&s->lock);
	return 0;
}

int crl_store_reload_if_changed(struct crl_store *s, char *err, size_t errlen)
{
	bool changed = false;

	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < s->n_files && !changed; i++) {
		struct file_stamp now = file_stamp_of(s->files[i]);

		changed = now.exists && !file_stamp_equal(&now, &s->stamps[i]);
	}
	pthread_rwlock_unlock(&s->lock);
	if (!changed)
		return 0;
	if (crl_store_reload(s, err, errlen) < 0) {
		/* Not again every second: the broken file counts as seen until it changes. */
		pthread_rwlock_wrlock(&s->lock);
		for (size_t i = 0; i < s->n_files; i++) {
			struct file_stamp now = file_stamp_of(s->files[i]);

			if (now.exists)
				s->stamps[i] = now;
		}
		pthread_rwlock_unlock(&s->lock);
		return -1;
	}
	return 1;
}

enum crl_status crl_store_check(struct crl_store *s, X509 *cert, X509 *issuer,
                                char *detail, size_t detaillen)
{
	enum crl_status status = CRL_UNKNOWN;
	double started = clock_now_ms_precise();
	int answered = -1;
	char name[256];

	detail[0] = '\0';
	if (issuer == NULL)
		return CRL_UNKNOWN;
	cert_name_string(X509_get_subject_name(issuer), name, sizeof(name));
	pthread_rwlock_rdlock(&s->lock);
	for (int i = 0; i < sk_X509_CRL_num(s->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(s->crls, i);
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
		X509_REVOKED *entry = NULL;

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0 ||
		    X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1)
			continue;
		answered = i;
		if (X509_CRL_get0_by_serial(crl, &entry, (ASN1_INTEGER *)X509_get0_serialNumber(cert)) == 1) {
			status = CRL_REVOKED;
			snprintf(detail, detaillen, "listed in the CRL of %s", name);
			break;
		}
		if (next != NULL && X509_cmp_current_time(next) < 0) {
			status = CRL_EXPIRED;
			snprintf(detail, detaillen, "the CRL of %s is past its nextUpdate", name);
			continue;
		}
		status = CRL_GOOD;
		snprintf(detail, detaillen, "not in the CRL of %s", name);
		break;
	}
	pthread_rwlock_unlock(&s->lock);
	ERR_clear_error();
	if (answered >= 0)
		backend_observer_report(&s->observer, (unsigned)answered, BACKEND_OK, started);
	if (status == CRL_UNKNOWN)
		snprintf(detail, detaillen, "no CRL of %s is configured", name);
	return status;
}

X509_CRL *crl_store_read_file(const char *path, const char *ca_file, X509 **signer, char *err,
                              size_t errlen)
{
	STACK_OF(X509) *cas = read_ca(ca_file, err, errlen);
	X509_CRL *crl;

	*signer = NULL;
	if (cas == NULL)
		return NULL;
	crl = read_crl(path, cas, signer, err, errlen);
	sk_X509_pop_free(cas, X509_free);
	return crl;
}
