/*
 * libFuzzer target for the RADIUS intake path: every datagram a NAS (or an
 * attacker spoofing one) can send goes through radius_request_decode() first,
 * and what it accepts goes on to the EAP conversation as dispatch hands it
 * over.
 *
 * Input: byte 0 selects the mode, the rest is the datagram.
 *   bit 0: the client requires Message-Authenticator on Access-Requests
 *   bit 1: it came in on the accounting listener (else authentication)
 *   bit 2: leave the authenticators as they are: most such packets are
 *          dropped as forged, as they must be
 *   bit 3: the EAP-Message continues a conversation that has sent its
 *          EAP-TLS Start (a request with State), else it begins one
 * Without bit 2 the harness signs the datagram with the client's secret, as
 * a NAS would: the Message-Authenticator (if the datagram has one) and, on
 * an Accounting-Request, the Request Authenticator. Mutations then pass the
 * integrity checks and reach the attribute decoding and the EAP layer, which
 * a fuzzer cannot forge its way into.
 *
 * At exit it prints how many inputs reached the EAP layer. Needs
 * AUTHD_TEST_PKI_DIR (made by tests/pki/make-pki.sh) for the EAP server.
 * Seeds: make_eap_seeds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>

#include "authd/client.h"
#include "authd/radius.h"
#include "eap_replay.h"

#define MODE_REQUIRE_MA 0x01
#define MODE_ACCOUNTING 0x02
#define MODE_UNSIGNED   0x04
#define MODE_CONTINUED  0x08

#define CODE_ACCESS_REQUEST     1
#define CODE_ACCOUNTING_REQUEST 4
#define ATTR_MESSAGE_AUTHENTICATOR 80

static char secret[] = "testing123-radius-secret";
static struct eap_tls_context *tls;
static unsigned long inputs, decoded, reached_eap;

static void print_counters(void)
{
	fprintf(stderr, "fuzz_radius: %lu inputs, %lu decoded, %lu reached eap_conversation_step\n",
	        inputs, decoded, reached_eap);
}

static void initialize(void)
{
	char err[256];

	if (radius_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_radius: %s\n", err);
		abort();
	}
	eap_replay_deterministic_rand();
	tls = eap_replay_context(getenv("AUTHD_TEST_PKI_DIR"));
	atexit(print_counters);
}

/*
 * Signs pkt in place as a NAS would. Only what the Length field covers is
 * signed, and only if its attributes can be walked (else there is nothing a
 * NAS could have signed, and the decoder refuses it anyway).
 */
static void sign(uint8_t *pkt, size_t len)
{
	size_t plen, pos, ma = 0;
	unsigned int maclen = 16;
	uint8_t mac[EVP_MAX_MD_SIZE], digest[MD5_DIGEST_LENGTH];
	EVP_MD_CTX *md;

	if (len < 20)
		return;
	plen = (size_t)pkt[2] << 8 | pkt[3];
	if (plen < 20 || plen > len)
		return;
	for (pos = 20; pos < plen; pos += pkt[pos + 1]) {
		if (pos + 2 > plen || pkt[pos + 1] < 2 || pos + pkt[pos + 1] > plen)
			return;
		if (pkt[pos] == ATTR_MESSAGE_AUTHENTICATOR && pkt[pos + 1] == 18 && ma == 0)
			ma = pos + 2;
	}
	/* RFC 2866 and 3579: an Accounting-Request's authenticators are computed with a zero
	 * Request Authenticator, the Message-Authenticator first. */
	if (pkt[0] == CODE_ACCOUNTING_REQUEST)
		memset(pkt + 4, 0, 16);
	if (ma != 0) {
		memset(pkt + ma, 0, 16);
		if (HMAC(EVP_md5(), secret, (int)strlen(secret), pkt, plen, mac, &maclen) == NULL)
			abort();
		memcpy(pkt + ma, mac, 16);
	}
	if (pkt[0] == CODE_ACCOUNTING_REQUEST) {
		md = EVP_MD_CTX_new();
		if (md == NULL || EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1 ||
		    EVP_DigestUpdate(md, pkt, plen) != 1 ||
		    EVP_DigestUpdate(md, secret, strlen(secret)) != 1 ||
		    EVP_DigestFinal_ex(md, digest, NULL) != 1)
			abort();
		EVP_MD_CTX_free(md);
		memcpy(pkt + 4, digest, 16);
	}
}

/*
 * What dispatch does with an accepted Access-Request's EAP-Message: a new
 * conversation gets it as its first packet; one with State has come as far
 * as EAP-TLS Start (the Identifier is predictable: OpenSSL's random bytes are
 * a fixed pattern here).
 */
static void to_eap(const struct radius_request *req, bool continued)
{
	static const uint8_t identity[] = { 2, 0, 0, 9, 1, 'f', 'u', 'z', 'z' };
	uint8_t response[sizeof(identity)];
	struct eap_conversation *conv = eap_conversation_new(tls, 1014);
	const uint8_t *out = NULL;
	size_t outlen = 0;
	enum eap_step step;

	if (conv == NULL)
		return;
	if (continued) {
		if (eap_conversation_step(conv, NULL, 0, &out, &outlen) != EAP_STEP_SEND)
			abort();
		memcpy(response, identity, sizeof(identity));
		response[1] = out[1];
		if (eap_conversation_step(conv, response, sizeof(response), &out, &outlen) != EAP_STEP_SEND)
			abort();
	}
	reached_eap++;
	step = eap_conversation_step(conv, req->eap, req->eap_len, &out, &outlen);
	/* A resumption offer: this store has nothing, the handshake goes on in full. */
	if (step == EAP_STEP_LOOKUP)
		step = eap_conversation_resume(conv, false, &out, &outlen);
	if (step != EAP_STEP_DISCARD && (out == NULL || outlen < 4))
		abort();   /* every answer is a packet */
	eap_conversation_free(conv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pkt[65536];
	struct client client = { .name = "fuzz", .secret = secret };
	struct radius_request req;
	char detail[160];
	size_t len;

	if (tls == NULL)
		initialize();
	if (size < 1)
		return 0;
	inputs++;
	len = size - 1 < sizeof(pkt) ? size - 1 : sizeof(pkt);
	memcpy(pkt, data + 1, len);
	if (!(data[0] & MODE_UNSIGNED))
		sign(pkt, len);
	client.require_message_authenticator = data[0] & MODE_REQUIRE_MA;
	if (radius_request_decode(pkt, len, data[0] & MODE_ACCOUNTING ? RADIUS_PORT_ACCOUNTING : RADIUS_PORT_AUTH,
	                          &client, &req, detail, sizeof(detail)) != RADIUS_ACCEPTED)
		return 0;
	decoded++;
	/* Touch what dispatch would read, so bad pointers show up here. */
	volatile uint8_t sink = 0;

	for (size_t i = 0; req.eap != NULL && i < req.eap_len; i++)
		sink ^= req.eap[i];
	for (size_t i = 0; req.state != NULL && i < req.state_len; i++)
		sink ^= req.state[i];
	for (size_t i = 0; req.authd_class != NULL && i < req.authd_class_len; i++)
		sink ^= req.authd_class[i];
	sink ^= (uint8_t)(strlen(req.user_name) + strlen(req.acct_session_id) +
	                  strlen(req.called_station_id) + strlen(req.calling_station_id) +
	                  strlen(req.nas_identifier) + strlen(req.nas_ip_address) +
	                  strlen(req.nas_ipv6_address) +
	                  (req.ssid != NULL ? strlen(req.ssid) : 0));
	(void)sink;
	if (req.code == CODE_ACCESS_REQUEST && req.eap != NULL)
		to_eap(&req, data[0] & MODE_CONTINUED);
	radius_request_free(&req);
	return 0;
}
