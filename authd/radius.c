#include "authd/radius.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <freeradius/build.h>
#include <freeradius/libradius.h>

#define ATTR_USER_PASSWORD         2
#define ATTR_CHAP_PASSWORD         3
#define ATTR_VENDOR_SPECIFIC       26
#define ATTR_MESSAGE_AUTHENTICATOR 80
#define ATTR_EAP_MESSAGE           79
#define MESSAGE_AUTHENTICATOR_LEN  RADIUS_AUTHENTICATOR_LEN

/*
 * libfreeradius 3.2 draws the MS-MPPE salts from fr_rand(), whose pool is a
 * process-wide unlocked ISAAC state. Encoding is microseconds; serializing it
 * keeps salts unique without patching the library.
 */
static pthread_mutex_t encode_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const drop_texts[RADIUS_DROP_COUNT] = {
	[RADIUS_ACCEPTED] = "accepted",
	[RADIUS_DROP_MALFORMED] = "malformed packet",
	[RADIUS_DROP_UNSUPPORTED_CODE] = "unsupported packet code",
	[RADIUS_DROP_NO_MESSAGE_AUTHENTICATOR] = "missing Message-Authenticator",
	[RADIUS_DROP_BAD_MESSAGE_AUTHENTICATOR] = "invalid Message-Authenticator or Request Authenticator (wrong shared secret?)",
	[RADIUS_DROP_REFUSED_ATTRIBUTE] = "attribute authd never decodes in a request",
};

const char *radius_drop_text(enum radius_drop drop)
{
	return drop < RADIUS_DROP_COUNT ? drop_texts[drop] : "unknown";
}

size_t radius_challenge_eap_room(size_t state_len)
{
	size_t room = RADIUS_MAX_PACKET - 20 - (2 + MESSAGE_AUTHENTICATOR_LEN) - (2 + state_len);
	size_t attributes = (room + 254) / 255;

	return room - 2 * attributes;
}

int radius_init(char *err, size_t errlen)
{
	if (fr_check_lib_magic(RADIUSD_MAGIC_NUMBER) < 0) {
		snprintf(err, errlen, "libfreeradius does not match its headers: %s", fr_strerror());
		return -1;
	}
	if (dict_init("/usr/share/freeradius", "dictionary") < 0) {
		snprintf(err, errlen, "cannot load RADIUS dictionaries: %s", fr_strerror());
		return -1;
	}
	/* Bounds the work an unsigned packet can cause before it is rejected. */
	fr_max_attributes = 200;
	return 0;
}

bool radius_dictionaries_loaded(void)
{
	return dict_attrbyvalue(PW_EVENT_TIMESTAMP, 0) != NULL;
}

enum radius_frame radius_frame_check(const uint8_t *buf, size_t len, size_t *plen)
{
	size_t n;

	if (len < RADIUS_HEADER_LEN)
		return RADIUS_FRAME_SHORT;
	n = (size_t)buf[2] << 8 | buf[3];
	if (n < RADIUS_HEADER_LEN || n > RADIUS_MAX_PACKET || n > len)
		return RADIUS_FRAME_BAD_LENGTH;
	*plen = n;
	return RADIUS_FRAME_OK;
}

void radius_walk_begin(struct radius_walk *w, const uint8_t *pkt, size_t plen)
{
	*w = (struct radius_walk){ .pkt = pkt, .plen = plen, .pos = RADIUS_HEADER_LEN,
	                           .stop = RADIUS_WALK_ATTRIBUTE };
}

enum radius_walk_step radius_walk_next(struct radius_walk *w, struct radius_attr *a)
{
	const uint8_t *p = w->pkt;
	size_t pos = w->pos, n;

	if (w->stop != RADIUS_WALK_ATTRIBUTE)
		return w->stop;
	if (pos >= w->plen)
		return w->stop = RADIUS_WALK_END;
	if (pos + 2 > w->plen || p[pos + 1] < 2 || pos + p[pos + 1] > w->plen)
		return w->stop = RADIUS_WALK_OVERRUN;
	n = p[pos + 1];
	if (p[pos] == ATTR_MESSAGE_AUTHENTICATOR) {
		if (w->ma_at != 0 || n != 2 + MESSAGE_AUTHENTICATOR_LEN)
			return w->stop = RADIUS_WALK_BAD_MESSAGE_AUTHENTICATOR;
		w->ma_at = pos;
	}
	*a = (struct radius_attr){ .type = p[pos], .value = p + pos + 2, .len = n - 2, .at = pos };
	w->pos = pos + n;
	return RADIUS_WALK_ATTRIBUTE;
}

int radius_authenticator(const uint8_t *pkt, size_t plen, const uint8_t authenticator[RADIUS_AUTHENTICATOR_LEN],
                         const char *secret, uint8_t out[RADIUS_AUTHENTICATOR_LEN])
{
	unsigned int outlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 && EVP_DigestUpdate(ctx, pkt, 4) == 1 &&
	    EVP_DigestUpdate(ctx, authenticator, RADIUS_AUTHENTICATOR_LEN) == 1 &&
	    EVP_DigestUpdate(ctx, pkt + RADIUS_HEADER_LEN, plen - RADIUS_HEADER_LEN) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 && EVP_DigestFinal_ex(ctx, out, &outlen) == 1 &&
	    outlen == RADIUS_AUTHENTICATOR_LEN)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	return rc;
}

enum radius_verdict radius_authenticator_check(const uint8_t *pkt, size_t plen,
                                               const uint8_t authenticator[RADIUS_AUTHENTICATOR_LEN],
                                               const char *secret)
{
	uint8_t digest[RADIUS_AUTHENTICATOR_LEN];

	if (radius_authenticator(pkt, plen, authenticator, secret, digest) < 0)
		return RADIUS_CRYPTO_FAILED;
	return CRYPTO_memcmp(digest, pkt + 4, RADIUS_AUTHENTICATOR_LEN) == 0 ? RADIUS_VALID : RADIUS_INVALID;
}

int radius_message_authenticator(const uint8_t *pkt, size_t plen, size_t ma_at,
                                 const uint8_t authenticator[RADIUS_AUTHENTICATOR_LEN], const char *secret,
                                 uint8_t out[RADIUS_AUTHENTICATOR_LEN])
{
	uint8_t copy[RADIUS_MAX_PACKET];
	unsigned int outlen = 0;

	if (plen > sizeof(copy) || ma_at + 2 + RADIUS_AUTHENTICATOR_LEN > plen)
		return -1;
	memcpy(copy, pkt, plen);
	memcpy(copy + 4, authenticator, RADIUS_AUTHENTICATOR_LEN);
	memset(copy + ma_at + 2, 0, RADIUS_AUTHENTICATOR_LEN);
	if (HMAC(EVP_md5(), secret, (int)strlen(secret), copy, plen, out, &outlen) == NULL ||
	    outlen != RADIUS_AUTHENTICATOR_LEN)
		return -1;
	return 0;
}

enum radius_verdict radius_message_authenticator_check(const uint8_t *pkt, size_t plen, size_t ma_at,
                                                       const uint8_t authenticator[RADIUS_AUTHENTICATOR_LEN],
                                                       const char *secret)
{
	uint8_t digest[RADIUS_AUTHENTICATOR_LEN];

	if (radius_message_authenticator(pkt, plen, ma_at, authenticator, secret, digest) < 0)
		return RADIUS_CRYPTO_FAILED;
	return CRYPTO_memcmp(digest, pkt + ma_at + 2, RADIUS_AUTHENTICATOR_LEN) == 0 ? RADIUS_VALID
	                                                                             : RADIUS_INVALID;
}

/*
 * Framing and the Message-Authenticator facts libfreeradius 3.2.1 does not
 * enforce. *pktlen is the Length field (trailing bytes beyond it are padding
 * per RFC 2865 and ignored).
 */
static enum radius_drop check_framing(const uint8_t *buf, size_t len, enum radius_port port,
                                      size_t *pktlen, bool *has_ma, bool *has_eap, char *detail,
                                      size_t detaillen)
{
	unsigned request = port == RADIUS_PORT_AUTH ? PW_CODE_ACCESS_REQUEST : PW_CODE_ACCOUNTING_REQUEST;
	struct radius_walk w;
	struct radius_attr a;
	enum radius_walk_step step;
	size_t plen = 0;

	*has_ma = *has_eap = false;
	switch (radius_frame_check(buf, len, &plen)) {
	case RADIUS_FRAME_OK:
		break;
	case RADIUS_FRAME_SHORT:
		snprintf(detail, detaillen, "%zu bytes is shorter than a RADIUS header", len);
		return RADIUS_DROP_MALFORMED;
	case RADIUS_FRAME_BAD_LENGTH:
		snprintf(detail, detaillen, "Length field %zu does not fit the %zu bytes received",
		         (size_t)buf[2] << 8 | buf[3], len);
		return RADIUS_DROP_MALFORMED;
	}
	if (buf[0] != request && buf[0] != PW_CODE_STATUS_SERVER) {
		snprintf(detail, detaillen, "code %u is not %s or Status-Server on the %s port", buf[0],
		         port == RADIUS_PORT_AUTH ? "Access-Request" : "Accounting-Request",
		         port == RADIUS_PORT_AUTH ? "authentication" : "accounting");
		return RADIUS_DROP_UNSUPPORTED_CODE;
	}
	radius_walk_begin(&w, buf, plen);
	while ((step = radius_walk_next(&w, &a)) == RADIUS_WALK_ATTRIBUTE) {
		if (a.type == ATTR_EAP_MESSAGE)
			*has_eap = true;
	}
	if (step == RADIUS_WALK_OVERRUN) {
		snprintf(detail, detaillen, "attribute at offset %zu overruns the packet", w.pos);
		return RADIUS_DROP_MALFORMED;
	}
	if (step == RADIUS_WALK_BAD_MESSAGE_AUTHENTICATOR) {
		snprintf(detail, detaillen, "Message-Authenticator repeated or of wrong length");
		return RADIUS_DROP_MALFORMED;
	}
	*has_ma = w.ma_at != 0;
	*pktlen = plen;
	return RADIUS_ACCEPTED;
}

/*
 * Attributes refused before libfreeradius decodes anything.
 *
 * libfreeradius decrypts, while decoding, every attribute its dictionary
 * marks encrypt=1, 2 or 3: User-Password, Tunnel-Password (69), and vendor
 * keys such as MS-CHAP-MPPE-Keys, MS-MPPE-Send-Key and MS-MPPE-Recv-Key
 * (26/311/12, 16, 17), Aruba-MPSK-Passphrase (26/14823/44), the 3GPP2,
 * ERX, Alcatel and WiMAX keys. Each costs MD5 rounds keyed by the shared
 * secret, and 3.2.1's rad_tunnel_pwdecode leaks two EVP_MD_CTX per
 * Tunnel-Password (fixed in later 3.2.x), from packets that a client without
 * Message-Authenticator lets anyone forge. No NAS sends these in a request
 * (RFC 2868 and RFC 2548 allow them in Access-Accept only) and authd reads
 * none of them, so a request carrying one is dropped. The dictionary, not
 * a list here, says what is encrypted; WiMAX VSAs (format 1,1,c) are refused
 * whole, because their decoding reassembles fragments and nests keys in
 * TLVs; no other dictionary nests an encrypted attribute in a TLV.
 *
 * User-Password and CHAP-Password are legitimate in an Access-Request (PAP,
 * MAC Authentication Bypass), which authd answers with Access-Reject because
 * it serves EAP only. Dropping them would make such a NAS count authd as
 * dead and stop sending it EAP too, so they are cut out undecoded instead
 * (keep_read_attributes) and the request is rejected as not EAP. Next to an
 * EAP-Message (no NAS mixes the two) or in another packet code they are
 * refused like the encrypted ones.
 */
static const DICT_ATTR *encrypted_attribute(unsigned attr, unsigned vendor)
{
	const DICT_ATTR *da = dict_attrbyvalue(attr, vendor);

	return da != NULL && da->flags.encrypt != FLAG_ENCRYPT_NONE ? da : NULL;
}

/* The sub-attributes of one Vendor-Specific value (vendor id first), laid
 * out as its vendor's dictionary says (type and length fields of 1, 2 or 4
 * and 0, 1 or 2 octets). Writes what to log into detail and returns true
 * when one is refused. A layout libfreeradius cannot walk is kept as raw
 * octets by it, undecoded, so the walk stops there. */
static bool vsa_refused(const uint8_t *v, size_t len, char *detail, size_t detaillen)
{
	const DICT_VENDOR *dv;
	const DICT_ATTR *da;
	unsigned vendor, type;
	size_t pos, tlen, llen, sublen, i;

	if (len < 5 || v[0] != 0)
		return false;
	vendor = (unsigned)v[1] << 16 | (unsigned)v[2] << 8 | v[3];
	/* Enterprise number 0 is reserved, no NAS's: libfreeradius decodes what
	 * such a VSA holds as standard attributes, Tunnel-Password included. */
	if (vendor == 0) {
		snprintf(detail, detaillen, "Vendor-Specific of vendor 0, decoded as standard attributes");
		return true;
	}
	dv = dict_vendorbyvalue((int)vendor);
	if (dv == NULL)
		return false; /* an unknown vendor's attributes are decoded as raw octets */
	if (dv->flags) {
		snprintf(detail, detaillen, "Vendor-Specific of %s (%u), whose format is never decoded",
		         dv->name, vendor);
		return true;
	}
	tlen = dv->type;
	llen = dv->length;
	for (pos = 4; pos + tlen + llen <= len; pos += sublen) {
		for (type = 0, i = 0; i < tlen; i++)
			type = type << 8 | v[pos + i];
		if ((da = encrypted_attribute(type, vendor)) != NULL) {
			snprintf(detail, detaillen, "%s (26/%u/%u), encrypted", da->name, vendor, type);
			return true;
		}
		if (llen == 0)
			break;
		sublen = v[pos + tlen];
		if (llen == 2)
			sublen = sublen << 8 | v[pos + tlen + 1];
		if (sublen < tlen + llen)
			break;
	}
	return false;
}

/* Walks the attribute list check_framing has checked. */
static enum radius_drop check_attributes(const uint8_t *buf, size_t plen, bool has_eap,
                                         char *detail, size_t detaillen)
{
	const DICT_ATTR *da;
	struct radius_walk w;
	struct radius_attr a;

	radius_walk_begin(&w, buf, plen);
	while (radius_walk_next(&w, &a) == RADIUS_WALK_ATTRIBUTE) {
		if (a.type == ATTR_USER_PASSWORD || a.type == ATTR_CHAP_PASSWORD) {
			if (buf[0] != PW_CODE_ACCESS_REQUEST || has_eap) {
				snprintf(detail, detaillen, "%s in %s",
				         a.type == ATTR_USER_PASSWORD ? "User-Password" : "CHAP-Password",
				         has_eap ? "an EAP request" : "a packet that is no Access-Request");
				return RADIUS_DROP_REFUSED_ATTRIBUTE;
			}
		} else if (a.type == ATTR_VENDOR_SPECIFIC) {
			if (vsa_refused(a.value, a.len, detail, detaillen))
				return RADIUS_DROP_REFUSED_ATTRIBUTE;
		} else if ((da = encrypted_attribute(a.type, 0)) != NULL) {
			snprintf(detail, detaillen, "%s (%u), encrypted", da->name, a.type);
			return RADIUS_DROP_REFUSED_ATTRIBUTE;
		}
	}
	return RADIUS_ACCEPTED;
}

/* Whether authd reads attribute type from a request. */
static bool read_by_authd(unsigned type)
{
	switch (type) {
	case PW_USER_NAME: case PW_NAS_IP_ADDRESS: case PW_NAS_IPV6_ADDRESS: case PW_NAS_PORT:
	case PW_FRAMED_MTU:
	case PW_STATE: case PW_CLASS: case PW_CALLED_STATION_ID: case PW_CALLING_STATION_ID:
	case PW_NAS_IDENTIFIER: case PW_ACCT_STATUS_TYPE: case PW_ACCT_SESSION_ID:
	case PW_NAS_PORT_TYPE: case PW_EAP_MESSAGE: case PW_MESSAGE_AUTHENTICATOR:
		return true;
	default:
		return false;
	}
}

/*
 * Keeps in p's copy of the datagram only the attributes authd reads, once
 * its authenticators were checked and before it is decoded: whatever the
 * dictionary makes of the others (an attribute it decrypts, one whose
 * decoding leaks in libfreeradius 3.2.1), none of it runs. User-Password and
 * CHAP-Password go this way too.
 */
static void keep_read_attributes(RADIUS_PACKET *p)
{
	uint8_t *d = p->data;
	size_t out = RADIUS_HEADER_LEN;
	struct radius_walk w;
	struct radius_attr a;

	/* Moving an attribute down never overwrites the ones the walk has yet to read. */
	radius_walk_begin(&w, d, p->data_len);
	while (radius_walk_next(&w, &a) == RADIUS_WALK_ATTRIBUTE) {
		if (read_by_authd(a.type)) {
			memmove(d + out, d + a.at, 2 + a.len);
			out += 2 + a.len;
		}
	}
	explicit_bzero(d + out, p->data_len - out);
	d[2] = (uint8_t)(out >> 8);
	d[3] = (uint8_t)out;
	p->data_len = out;
}

static VALUE_PAIR *find(RADIUS_PACKET *p, unsigned attr)
{
	return fr_pair_find_by_num(p->vps, attr, 0, TAG_ANY);
}

static const char *string_of(RADIUS_PACKET *p, unsigned attr)
{
	VALUE_PAIR *vp = find(p, attr);

	return vp != NULL ? vp->vp_strvalue : "";
}

static unsigned integer_of(RADIUS_PACKET *p, unsigned attr)
{
	VALUE_PAIR *vp = find(p, attr);

	return vp != NULL ? vp->vp_integer : 0;
}

/* The Class authd issued, among any others the NAS echoes. */
static void find_authd_class(RADIUS_PACKET *p, struct radius_request *req)
{
	static const char prefix[] = RADIUS_AUTHD_CLASS_PREFIX;
	vp_cursor_t cursor;
	VALUE_PAIR *vp;

	for (vp = fr_cursor_init(&cursor, &p->vps); vp != NULL; vp = fr_cursor_next(&cursor)) {
		if (vp->da->vendor == 0 && vp->da->attr == PW_CLASS && vp->vp_length > sizeof(prefix) - 1 &&
		    memcmp(vp->vp_octets, prefix, sizeof(prefix) - 1) == 0) {
			req->authd_class = vp->vp_octets + sizeof(prefix) - 1;
			req->authd_class_len = vp->vp_length - (sizeof(prefix) - 1);
			return;
		}
	}
}

/* RFC 3580 §3.20: Called-Station-Id is "MAC:SSID" on 802.11. The MAC is 17
 * characters in both the dash and the colon notation, so the SSID follows
 * the 18th character when that is a colon. */
static const char *ssid_of(const char *called_station_id)
{
	if (strlen(called_station_id) > 18 && called_station_id[17] == ':')
		return called_station_id + 18;
	return NULL;
}

enum radius_drop radius_request_decode(const uint8_t *buf, size_t len, enum radius_port port,
                                       const struct client *client,
                                       struct radius_request *req,
                                       char *detail, size_t detaillen)
{
	RADIUS_PACKET *p = NULL;
	decode_fail_t why = DECODE_FAIL_NONE;
	enum radius_drop drop;
	bool has_ma, has_eap;
	size_t plen = 0;
	VALUE_PAIR *vp;

	memset(req, 0, sizeof(*req));
	detail[0] = '\0';
	drop = check_framing(buf, len, port, &plen, &has_ma, &has_eap, detail, detaillen);
	if (drop == RADIUS_ACCEPTED)
		drop = check_attributes(buf, plen, has_eap, detail, detaillen);
	if (drop != RADIUS_ACCEPTED)
		return drop;
	/* RFC 3579 and RFC 5997 make it mandatory with EAP and Status-Server;
	 * BlastRADIUS makes it mandatory on Access-Requests unless the admin
	 * opted out. Accounting is signed by its Request Authenticator. */
	if (!has_ma && ((client->require_message_authenticator && buf[0] == PW_CODE_ACCESS_REQUEST) ||
	                has_eap || buf[0] == PW_CODE_STATUS_SERVER)) {
		snprintf(detail, detaillen, "%s without Message-Authenticator",
		         buf[0] == PW_CODE_STATUS_SERVER ? "Status-Server"
		         : buf[0] == PW_CODE_ACCESS_REQUEST ? "Access-Request" : "Accounting-Request with EAP-Message");
		return RADIUS_DROP_NO_MESSAGE_AUTHENTICATOR;
	}
	p = rad_alloc(NULL, false);
	if (p == NULL)
		goto malformed;
	p->data = talloc_memdup(p, buf, plen);
	if (p->data == NULL)
		goto malformed;
	p->data_len = plen;
	p->src_ipaddr.af = AF_INET;
	p->dst_ipaddr.af = AF_INET;
	if (!rad_packet_ok(p, 0, &why)) {
		snprintf(detail, detaillen, "rejected by the RADIUS decoder (%d): %s", (int)why, fr_strerror());
		goto malformed;
	}
	if (rad_verify(p, NULL, client->secret) < 0) {
		snprintf(detail, detaillen, "%s", fr_strerror());
		rad_free(&p);
		return RADIUS_DROP_BAD_MESSAGE_AUTHENTICATOR;
	}
	keep_read_attributes(p);
	if (rad_decode(p, NULL, client->secret) < 0) {
		snprintf(detail, detaillen, "cannot decode attributes: %s", fr_strerror());
		goto malformed;
	}
	req->packet = p;
	req->code = p->code;
	req->id = (uint8_t)p->id;
	memcpy(req->authenticator, p->vector, sizeof(req->authenticator));
	req->message_authenticator = has_ma;
	if ((vp = find(p, PW_EAP_MESSAGE)) != NULL) {
		req->eap = vp->vp_octets;
		req->eap_len = vp->vp_length;
	} else if (has_eap) {
		/* An empty EAP-Message is EAP-Start (RFC 3579 §2.1). */
		req->eap = (const uint8_t *)"";
	}
	if ((vp = find(p, PW_STATE)) != NULL) {
		req->state = vp->vp_octets;
		req->state_len = vp->vp_length;
	}
	req->framed_mtu = integer_of(p, PW_FRAMED_MTU);
	req->user_name = string_of(p, PW_USER_NAME);
	req->calling_station_id = string_of(p, PW_CALLING_STATION_ID);
	req->called_station_id = string_of(p, PW_CALLED_STATION_ID);
	req->ssid = ssid_of(req->called_station_id);
	req->nas_identifier = string_of(p, PW_NAS_IDENTIFIER);
	if ((vp = find(p, PW_NAS_IP_ADDRESS)) != NULL)
		inet_ntop(AF_INET, &vp->vp_ipaddr, req->nas_ip_address, sizeof(req->nas_ip_address));
	if ((vp = find(p, PW_NAS_IPV6_ADDRESS)) != NULL)
		inet_ntop(AF_INET6, &vp->vp_ipv6addr, req->nas_ipv6_address, sizeof(req->nas_ipv6_address));
	req->nas_port = integer_of(p, PW_NAS_PORT);
	req->nas_port_type = integer_of(p, PW_NAS_PORT_TYPE);
	req->acct_status_type = integer_of(p, PW_ACCT_STATUS_TYPE);
	req->acct_session_id = string_of(p, PW_ACCT_SESSION_ID);
	find_authd_class(p, req);
	return RADIUS_ACCEPTED;

malformed:
	if (detail[0] == '\0')
		snprintf(detail, detaillen, "out of memory");
	rad_free(&p);
	return RADIUS_DROP_MALFORMED;
}

void radius_request_free(struct radius_request *req)
{
	RADIUS_PACKET *p = req->packet;

	rad_free(&p);
	memset(req, 0, sizeof(*req));
}

/* A reply is the libfreeradius packet itself; the struct tag keeps it opaque. */
static RADIUS_PACKET *packet_of(struct radius_reply *r)
{
	return (RADIUS_PACKET *)r;
}

/* Message-Authenticator first (BlastRADIUS): rad_encode writes the
 * attributes in list order and rad_sign fills this one in. */
static struct radius_reply *with_message_authenticator(RADIUS_PACKET *p)
{
	static const uint8_t zeros[MESSAGE_AUTHENTICATOR_LEN];
	VALUE_PAIR *vp = fr_pair_afrom_num(p, PW_MESSAGE_AUTHENTICATOR, 0);

	if (vp == NULL) {
		rad_free(&p);
		return NULL;
	}
	fr_pair_value_memcpy(vp, zeros, sizeof(zeros));
	fr_pair_add(&p->vps, vp);
	return (struct radius_reply *)p;
}

struct radius_reply *radius_reply_new(struct radius_request *req, unsigned code)
{
	RADIUS_PACKET *p = rad_alloc_reply(req->packet, req->packet);

	if (p == NULL)
		return NULL;
	p->code = code;
	if (req->code == PW_CODE_ACCOUNTING_REQUEST)
		return (struct radius_reply *)p;
	return with_message_authenticator(p);
}

struct radius_reply *radius_reply_new_request(unsigned code, uint8_t id)
{
	RADIUS_PACKET *p = rad_alloc(NULL, false);

	if (p == NULL)
		return NULL;
	p->code = code;
	p->id = id;
	return with_message_authenticator(p);
}

int radius_reply_add_octets(struct radius_reply *r, unsigned attr, unsigned vendor,
                            const uint8_t *value, size_t len)
{
	RADIUS_PACKET *p = packet_of(r);
	VALUE_PAIR *vp = fr_pair_afrom_num(p, attr, vendor);

	if (vp == NULL)
		return -1;
	fr_pair_value_memcpy(vp, value, len);
	fr_pair_add(&p->vps, vp);
	return 0;
}

int radius_reply_add_string(struct radius_reply *r, unsigned attr, int tag, const char *value)
{
	RADIUS_PACKET *p = packet_of(r);
	VALUE_PAIR *vp = fr_pair_afrom_num(p, attr, 0);

	if (vp == NULL)
		return -1;
	vp->tag = (int8_t)(tag > 0 ? tag : TAG_NONE);
	fr_pair_value_strcpy(vp, value);
	fr_pair_add(&p->vps, vp);
	return 0;
}

int radius_reply_add_integer(struct radius_reply *r, unsigned attr, int tag, uint32_t value)
{
	RADIUS_PACKET *p = packet_of(r);
	VALUE_PAIR *vp = fr_pair_afrom_num(p, attr, 0);

	if (vp == NULL)
		return -1;
	vp->tag = (int8_t)(tag > 0 ? tag : TAG_NONE);
	vp->vp_integer = value;
	vp->vp_length = 4;
	fr_pair_add(&p->vps, vp);
	return 0;
}

int radius_reply_add_address(struct radius_reply *r, unsigned attr, const char *dotted)
{
	RADIUS_PACKET *p = packet_of(r);
	VALUE_PAIR *vp;
	struct in_addr ip;

	if (inet_pton(AF_INET, dotted, &ip) != 1 || (vp = fr_pair_afrom_num(p, attr, 0)) == NULL)
		return -1;
	vp->vp_ipaddr = ip.s_addr;
	vp->vp_length = 4;
	fr_pair_add(&p->vps, vp);
	return 0;
}

int radius_reply_encode(struct radius_reply *r, const struct radius_request *req,
                        const struct client *client, const uint8_t **out, size_t *outlen)
{
	RADIUS_PACKET *p = packet_of(r);
	int rc;

	pthread_mutex_lock(&encode_lock);
	rc = rad_encode(p, req->packet, client->secret);
	if (rc == 0)
		rc = rad_sign(p, req->packet, client->secret);
	pthread_mutex_unlock(&encode_lock);
	if (rc < 0 || p->data == NULL)
		return -1;
	*out = p->data;
	*outlen = p->data_len;
	return 0;
}

/* Whether p is signed as RFC 5176 wants a request: Message-Authenticator
 * first, computed with a zero authenticator, then the Request Authenticator
 * MD5(Code+Identifier+Length+16 zero octets+Attributes+Secret). */
static bool signed_as_request(const RADIUS_PACKET *p, const char *secret)
{
	static const uint8_t zeros[RADIUS_AUTHENTICATOR_LEN];

	return p->data != NULL && p->data_len >= RADIUS_HEADER_LEN + 2 + MESSAGE_AUTHENTICATOR_LEN &&
	       p->data_len <= RADIUS_MAX_PACKET && p->data[RADIUS_HEADER_LEN] == ATTR_MESSAGE_AUTHENTICATOR &&
	       p->data[RADIUS_HEADER_LEN + 1] == 2 + MESSAGE_AUTHENTICATOR_LEN &&
	       radius_message_authenticator_check(p->data, p->data_len, RADIUS_HEADER_LEN, zeros, secret) ==
	               RADIUS_VALID &&
	       radius_authenticator_check(p->data, p->data_len, zeros, secret) == RADIUS_VALID;
}

/* In libfreeradius 3.2.1, rad_encode writes attributes in list order and
 * zeroes the authenticator for codes 40 and 43; rad_sign then computes
 * Message-Authenticator with that zero authenticator and the Request
 * Authenticator as for Accounting-Request. */
int radius_reply_encode_request(struct radius_reply *r, const char *secret, const uint8_t **out,
                                size_t *outlen, const char **why)
{
	RADIUS_PACKET *p = packet_of(r);
	int rc;

	pthread_mutex_lock(&encode_lock);
	rc = rad_encode(p, NULL, secret);
	if (rc >= 0)
		rc = rad_sign(p, NULL, secret);
	pthread_mutex_unlock(&encode_lock);
	if (rc < 0) {
		*why = "the RADIUS encoder failed";
		return -1;
	}
	if (!signed_as_request(p, secret)) {
		*why = "the RADIUS encoder did not sign as RFC 5176 says";
		return -1;
	}
	*out = p->data;
	*outlen = p->data_len;
	return 0;
}

void radius_reply_free(struct radius_reply *r)
{
	RADIUS_PACKET *p = packet_of(r);

	rad_free(&p);
}
