/*
 * The peer's TLS byte stream, read just far enough to bound it before
 * OpenSSL sees it: record headers (RFC 8446 5.1, RFC 5246 6.2) and the
 * 4-byte headers of the plaintext handshake messages inside them.
 *
 * Why: OpenSSL allocates a handshake message's declared length as soon as
 * it has read its header (a ClientHello may declare 131,396 bytes), so a
 * 9-byte record can make a conversation hold 150 KB. Refusing the claim
 * here means OpenSSL never buffers more than the configured maximum.
 *
 * A pure function over caller-held state: no allocation, no I/O, so that it
 * can be fuzzed alone (tests/fuzz/fuzz_tls_records.c).
 */
#ifndef AUTHD_EAP_TLS_RECORDS_H
#define AUTHD_EAP_TLS_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TLSCiphertext.length may reach 2^14 + 2048 (RFC 5246 6.2.3); nothing longer is TLS. */
#define EAP_TLS_RECORD_MAX (16384 + 2048)

/*
 * Where the scan stands in the stream; zero-initialised before the peer's
 * first byte. Records and handshake messages may be cut anywhere, across
 * calls: only headers are kept, never data.
 */
struct eap_tls_records {
	uint8_t record_header[5];
	uint8_t record_have;        /* bytes of record_header read */
	uint8_t record_type;        /* content type of the current record */
	size_t record_left;         /* body bytes of the current record still to come */
	uint8_t message_header[4];
	uint8_t message_have;       /* bytes of message_header read */
	size_t message_left;        /* body bytes of the current handshake message still to come */
	/* The largest handshake message declared so far: OpenSSL's handshake
	 * buffer grows to it and keeps that size until the handshake ends. */
	size_t largest_message;
	bool change_cipher_spec;    /* the peer sent ChangeCipherSpec */
	/*
	 * Set by the caller once TLS 1.2 is agreed: after its ChangeCipherSpec
	 * the peer's handshake records are encrypted (its Finished) and cannot
	 * be read. Under TLS 1.3 encrypted records are application data outside,
	 * and handshake records stay plaintext (a ClientHello after
	 * HelloRetryRequest may follow a compatibility ChangeCipherSpec).
	 */
	bool tls12;
};

/*
 * Reads the next len bytes of the peer's stream. Returns 0, or -1 with a
 * one-line reason in err when a record is not TLS (a content type other than
 * change_cipher_spec, alert, handshake or application_data, which also
 * refuses SSLv2-format hellos; a length above EAP_TLS_RECORD_MAX) or a
 * plaintext handshake message declares more than max_message body bytes.
 * After -1 the state is undefined: the stream is to be refused.
 */
int eap_tls_records_scan(struct eap_tls_records *s, const uint8_t *data, size_t len,
                         size_t max_message, char *err, size_t errlen);

#endif
