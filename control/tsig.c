/* tsig.c -- TSIG (RFC 8945) with OpenSSL's HMAC: the digest input is built
 * exactly as §4.3 lists it, so one routine serves requests, responses and
 * the later messages of a transfer. libknot's knot_tsig_* check one message
 * at a time; §5.3.1 lets a primary leave up to 99 messages unsigned in
 * between, whose bytes the next MAC covers, so the stream is ours. */
#include "tsig.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "wire.h"

static const struct {
	const char *name; /* the algorithm's domain name (RFC 8945 6) */
	const char *digest;
	size_t size;
} algs[TSIG_ALGS] = {
    [TSIG_HMAC_SHA1] = {"hmac-sha1", "SHA1", 20},
    [TSIG_HMAC_SHA256] = {"hmac-sha256", "SHA256", 32},
    [TSIG_HMAC_SHA384] = {"hmac-sha384", "SHA384", 48},
    [TSIG_HMAC_SHA512] = {"hmac-sha512", "SHA512", 64},
};

int tsig_alg_from_str(const char *s)
{
	size_t n = strlen(s);

	if (n && s[n - 1] == '.')
		n--;
	for (int i = 0; i < TSIG_ALGS; i++)
		if (strlen(algs[i].name) == n && strncasecmp(algs[i].name, s, n) == 0)
			return i;
	return -1;
}

const char *tsig_alg_name(enum tsig_alg alg)
{
	return algs[alg].name;
}

size_t tsig_mac_size(enum tsig_alg alg)
{
	return algs[alg].size;
}

int tsig_key_secret(struct tsig_key *key, const char *b64)
{
	uint8_t buf[TSIG_SECRET_MAX * 2];
	size_t n = strlen(b64);

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(buf))
		return -1;
	int k = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);

	if (k < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as bytes */
	for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
		k--;
	if (k <= 0 || (size_t)k > TSIG_SECRET_MAX)
		return -1;
	memcpy(key->secret, buf, (size_t)k);
	key->secret_len = (size_t)k;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static uint64_t read48(const uint8_t *p)
{
	return (uint64_t)wire_read16(p) << 32 | wire_read32(p + 2);
}

static void write48(uint8_t *p, uint64_t v)
{
	wire_write16(p, (uint16_t)(v >> 32));
	wire_write32(p + 2, (uint32_t)v);
}

int tsig_find(const uint8_t *msg, size_t len, struct tsig_rr *t)
{
	uint8_t name[DNAME_MAXLEN];
	size_t pos = WIRE_HDR_LEN;

	if (len < WIRE_HDR_LEN)
		return -1;
	unsigned qd = wire_read16(msg + 4);
	unsigned rrs =
	    (unsigned)wire_read16(msg + 6) + wire_read16(msg + 8) + wire_read16(msg + 10);
	unsigned ar = wire_read16(msg + 10);

	for (unsigned i = 0; i < qd; i++) {
		if (wire_name_read_any(msg, len, &pos, name) < 0 || pos + 4 > len)
			return -1;
		pos += 4;
	}
	for (unsigned i = 0; i < rrs; i++) {
		size_t start = pos;

		if (wire_name_read_any(msg, len, &pos, name) < 0 || pos + 10 > len)
			return -1;
		uint16_t type = wire_read16(msg + pos);
		size_t rdlen = wire_read16(msg + pos + 8);
		size_t rd = pos + 10;

		if (rd + rdlen > len)
			return -1;
		pos = rd + rdlen;
		if (type != TSIG_TYPE)
			continue;
		/* RFC 8945 5.1: only as the last additional record */
		if (i != rrs - 1 || ar == 0 || pos != len)
			return -1;
		if (wire_read16(msg + rd - 8) != TSIG_CLASS_ANY)
			return -1;
		t->off = start;
		dname_lower(name);
		memcpy(t->name, name, dname_len(name));
		size_t p = rd;
		/* the algorithm name is never compressed (RFC 8945 4.2) */
		int an = wire_name_read_any(msg, rd + rdlen, &p, t->alg);

		if (an < 0 || p != rd + (size_t)an || p + 10 > rd + rdlen)
			return -1;
		dname_lower(t->alg);
		t->time_signed = read48(msg + p);
		t->fudge = wire_read16(msg + p + 6);
		t->mac_len = wire_read16(msg + p + 8);
		p += 10;
		if (p + t->mac_len + 6 > rd + rdlen)
			return -1;
		t->mac = msg + p;
		p += t->mac_len;
		t->orig_id = wire_read16(msg + p);
		t->error = wire_read16(msg + p + 2);
		t->other_len = wire_read16(msg + p + 4);
		p += 6;
		if (p + t->other_len != rd + rdlen)
			return -1;
		t->other = msg + p;
		return 1;
	}
	return 0;
}

static EVP_MAC_CTX *hmac_new(const struct tsig_key *key)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)algs[key->alg].digest,
					     0),
	    OSSL_PARAM_construct_end(),
	};

	EVP_MAC_free(mac); /* the context holds its own reference */
	if (ctx && !EVP_MAC_init(ctx, key->secret, key->secret_len, params)) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

static void hmac_mac(EVP_MAC_CTX *ctx, const uint8_t *mac, size_t mac_len)
{
	uint8_t l[2];

	wire_write16(l, (uint16_t)mac_len);
	EVP_MAC_update(ctx, l, 2);
	EVP_MAC_update(ctx, mac, mac_len);
}

/* The message as §4.3.1/4.3.2 sign it: the original ID, ARCOUNT without
 * the TSIG, the bytes before the TSIG RR. */
static void hmac_message(EVP_MAC_CTX *ctx, const uint8_t *msg, size_t signed_len, uint16_t orig_id,
			 bool drop_one)
{
	uint8_t hdr[WIRE_HDR_LEN];

	memcpy(hdr, msg, WIRE_HDR_LEN);
	wire_write16(hdr, orig_id);
	if (drop_one)
		wire_write16(hdr + 10, (uint16_t)(wire_read16(hdr + 10) - 1));
	EVP_MAC_update(ctx, hdr, WIRE_HDR_LEN);
	EVP_MAC_update(ctx, msg + WIRE_HDR_LEN, signed_len - WIRE_HDR_LEN);
}

/* TSIG variables (RFC 8945 4.3.3), or only the timers (4.3.2 for the
 * later messages of a stream). */
static void hmac_vars(EVP_MAC_CTX *ctx, const uint8_t *key_name, const uint8_t *alg,
		      uint64_t time_signed, uint16_t fudge, uint16_t error, const uint8_t *other,
		      uint16_t other_len, bool timers_only)
{
	uint8_t b[16];

	if (!timers_only) {
		EVP_MAC_update(ctx, key_name, dname_len(key_name));
		wire_write16(b, TSIG_CLASS_ANY);
		wire_write32(b + 2, 0);
		EVP_MAC_update(ctx, b, 6);
		EVP_MAC_update(ctx, alg, dname_len(alg));
	}
	write48(b, time_signed);
	wire_write16(b + 6, fudge);
	EVP_MAC_update(ctx, b, 8);
	if (timers_only)
		return;
	wire_write16(b, error);
	wire_write16(b + 2, other_len);
	EVP_MAC_update(ctx, b, 4);
	if (other_len)
		EVP_MAC_update(ctx, other, other_len);
}

static size_t hmac_final(EVP_MAC_CTX *ctx, uint8_t *out)
{
	size_t n = 0;

	if (!EVP_MAC_final(ctx, out, &n, TSIG_MAC_MAX))
		n = 0;
	EVP_MAC_CTX_free(ctx);
	return n;
}

static void alg_wire(enum tsig_alg alg, uint8_t *out)
{
	dname_from_str(algs[alg].name, out, DNAME_MAXLEN);
}

/* Append a TSIG RR; ARCOUNT + 1. Returns the new length or 0. */
static size_t put_tsig(uint8_t *msg, size_t len, size_t max, const uint8_t *key_name,
		       const uint8_t *alg, uint64_t time_signed, const uint8_t *mac, size_t mac_len,
		       uint16_t orig_id, uint16_t error)
{
	size_t nl = dname_len(key_name), al = dname_len(alg);
	size_t rdlen = al + 10 + mac_len + 6;
	size_t need = len + nl + 10 + rdlen;

	if (need > max || need > WIRE_TCP_MAX)
		return 0;
	uint8_t *p = msg + len;

	memcpy(p, key_name, nl);
	p += nl;
	wire_write16(p, TSIG_TYPE);
	wire_write16(p + 2, TSIG_CLASS_ANY);
	wire_write32(p + 4, 0);
	wire_write16(p + 8, (uint16_t)rdlen);
	p += 10;
	memcpy(p, alg, al);
	p += al;
	write48(p, time_signed);
	wire_write16(p + 6, TSIG_FUDGE);
	wire_write16(p + 8, (uint16_t)mac_len);
	p += 10;
	if (mac_len)
		memcpy(p, mac, mac_len);
	p += mac_len;
	wire_write16(p, orig_id);
	wire_write16(p + 2, error);
	wire_write16(p + 4, 0);
	wire_write16(msg + 10, (uint16_t)(wire_read16(msg + 10) + 1));
	return need;
}

size_t tsig_sign(const struct tsig_key *key, uint8_t *msg, size_t len, size_t max,
		 const uint8_t *req_mac, size_t req_mac_len, uint64_t now, uint8_t *mac,
		 size_t *mac_len)
{
	uint8_t alg[DNAME_MAXLEN];
	EVP_MAC_CTX *ctx = hmac_new(key);

	if (!ctx || len < WIRE_HDR_LEN) {
		EVP_MAC_CTX_free(ctx);
		return 0;
	}
	alg_wire(key->alg, alg);
	if (req_mac)
		hmac_mac(ctx, req_mac, req_mac_len);
	hmac_message(ctx, msg, len, wire_read16(msg), false);
	hmac_vars(ctx, key->name, alg, now, TSIG_FUDGE, 0, NULL, 0, false);
	*mac_len = hmac_final(ctx, mac);
	if (!*mac_len)
		return 0;
	return put_tsig(msg, len, max, key->name, alg, now, mac, *mac_len, wire_read16(msg), 0);
}

static int check_mac(const struct tsig_key *key, const struct tsig_rr *t)
{
	uint8_t alg[DNAME_MAXLEN];

	alg_wire(key->alg, alg);
	if (!dname_equal(t->name, key->name) || !dname_equal(t->alg, alg))
		return TSIG_BADKEY;
	/* RFC 8945 5.2.2.1: no truncation below half the digest (or 10) */
	if (t->mac_len > tsig_mac_size(key->alg) || t->mac_len < 10 ||
	    t->mac_len < tsig_mac_size(key->alg) / 2)
		return TSIG_BADSIG;
	return 0;
}

static bool mac_equal(const uint8_t *computed, size_t n, const struct tsig_rr *t)
{
	return n >= t->mac_len && CRYPTO_memcmp(computed, t->mac, t->mac_len) == 0;
}

static bool time_ok(const struct tsig_rr *t, uint64_t now)
{
	uint64_t d = now > t->time_signed ? now - t->time_signed : t->time_signed - now;

	return d <= t->fudge;
}

int tsig_verify_request(const struct tsig_key *key, const uint8_t *msg, size_t len,
			const struct tsig_rr *t, uint64_t now)
{
	uint8_t out[TSIG_MAC_MAX];

	(void)len;
	if (!key)
		return TSIG_BADKEY;
	int rc = check_mac(key, t);

	if (rc)
		return rc;
	EVP_MAC_CTX *ctx = hmac_new(key);

	if (!ctx)
		return TSIG_BADSIG;
	hmac_message(ctx, msg, t->off, t->orig_id, true);
	hmac_vars(ctx, t->name, t->alg, t->time_signed, t->fudge, t->error, t->other, t->other_len,
		  false);
	size_t n = hmac_final(ctx, out);

	if (!mac_equal(out, n, t))
		return TSIG_BADSIG;
	/* RFC 8945 5.2.3: the time is checked after the MAC */
	return time_ok(t, now) ? 0 : TSIG_BADTIME;
}

size_t tsig_append_error(uint8_t *msg, size_t len, size_t max, const struct tsig_rr *req,
			 uint16_t error, uint64_t now)
{
	return put_tsig(msg, len, max, req->name, req->alg,
			error == TSIG_BADTIME ? now : req->time_signed, NULL, 0, wire_read16(msg),
			error);
}

void tsig_stream_init(struct tsig_stream *s, const struct tsig_key *key, const uint8_t *req_mac,
		      size_t req_mac_len)
{
	memset(s, 0, sizeof(*s));
	s->key = key;
	memcpy(s->mac, req_mac, req_mac_len);
	s->mac_len = req_mac_len;
}

int tsig_stream_next(struct tsig_stream *s, const uint8_t *msg, size_t len, uint64_t now,
		     const char **why)
{
	struct tsig_rr t;
	int found = tsig_find(msg, len, &t);

	if (found < 0) {
		*why = "malformed message or TSIG record";
		return -1;
	}
	if (!s->run) {
		s->run = hmac_new(s->key);
		if (!s->run) {
			*why = "no HMAC";
			return -1;
		}
		hmac_mac(s->run, s->mac, s->mac_len);
	}
	if (!found) {
		/* RFC 8945 5.3.1: the first message is signed, then at least
		 * every 100th */
		if (s->nsigned == 0 || ++s->unsigned_run > TSIG_UNSIGNED_MAX) {
			*why = s->nsigned ? "more than 99 unsigned messages in a row"
					  : "the first response is not signed";
			return -1;
		}
		EVP_MAC_update(s->run, msg, len);
		return 0;
	}
	int rc = check_mac(s->key, &t);

	if (t.error) {
		*why = t.error == TSIG_BADKEY	 ? "the primary does not know our key (BADKEY)"
		       : t.error == TSIG_BADSIG	 ? "the primary says our signature is bad (BADSIG)"
		       : t.error == TSIG_BADTIME ? "the primary says our clock is off (BADTIME)"
						 : "TSIG error from the primary";
		return -1;
	}
	if (rc) {
		*why = rc == TSIG_BADKEY ? "signed with another key" : "bad MAC size";
		return -1;
	}
	uint8_t out[TSIG_MAC_MAX];

	hmac_message(s->run, msg, t.off, t.orig_id, true);
	hmac_vars(s->run, t.name, t.alg, t.time_signed, t.fudge, t.error, t.other, t.other_len,
		  s->nsigned > 0);
	size_t n = hmac_final(s->run, out);

	s->run = NULL;
	if (!mac_equal(out, n, &t)) {
		*why = "bad MAC (wrong key, or the message was changed)";
		return -1;
	}
	if (!time_ok(&t, now)) {
		*why = "signed outside the fudge window (clocks apart?)";
		return -1;
	}
	memcpy(s->mac, t.mac, t.mac_len);
	s->mac_len = t.mac_len;
	s->nsigned++;
	s->unsigned_run = 0;
	return 0;
}

int tsig_stream_end(struct tsig_stream *s, const char **why)
{
	if (s->nsigned == 0 || s->unsigned_run) {
		*why = "the last message of the transfer is not signed";
		return -1;
	}
	return 0;
}

void tsig_stream_free(struct tsig_stream *s)
{
	EVP_MAC_CTX_free(s->run);
	s->run = NULL;
}
