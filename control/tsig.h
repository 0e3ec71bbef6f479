/* tsig.h -- TSIG (RFC 8945): HMAC-SHA1/256/384/512 over the exact bytes
 * §4.3 names, for requests, their responses and the multi-message
 * responses of a zone transfer (§5.3.1: unsigned messages in between). */
#ifndef CAROUSEL_TSIG_H
#define CAROUSEL_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dname.h"

#define TSIG_TYPE 250
#define TSIG_CLASS_ANY 255
#define TSIG_MAC_MAX 64
#define TSIG_FUDGE 300
#define TSIG_UNSIGNED_MAX 99 /* RFC 8945 5.3.1 */
#define TSIG_SECRET_MAX 128

/* TSIG errors (RFC 8945 3 and 5.2); 0 is success. */
enum tsig_error { TSIG_BADSIG = 16, TSIG_BADKEY = 17, TSIG_BADTIME = 18, TSIG_BADTRUNC = 22 };

enum tsig_alg { TSIG_HMAC_SHA1, TSIG_HMAC_SHA256, TSIG_HMAC_SHA384, TSIG_HMAC_SHA512, TSIG_ALGS };

struct tsig_key {
	uint8_t name[DNAME_MAXLEN]; /* lower-case wire form */
	enum tsig_alg alg;
	uint8_t secret[TSIG_SECRET_MAX];
	size_t secret_len;
};

/* The TSIG RR of a message, as read (pointers into the message). */
struct tsig_rr {
	size_t off;		    /* where the RR starts: the message before it is signed */
	uint8_t name[DNAME_MAXLEN]; /* key name, lower case */
	uint8_t alg[DNAME_MAXLEN];  /* algorithm name, lower case */
	uint64_t time_signed;
	uint16_t fudge;
	const uint8_t *mac;
	uint16_t mac_len;
	uint16_t orig_id;
	uint16_t error;
	const uint8_t *other;
	uint16_t other_len;
};

/* "hmac-sha256" (or with the trailing dot) -> alg; -1 when unknown. */
int tsig_alg_from_str(const char *s);
const char *tsig_alg_name(enum tsig_alg alg);
size_t tsig_mac_size(enum tsig_alg alg);
/* Base64 secret -> key->secret. Returns 0, or -1 when it is not base64 or
 * longer than TSIG_SECRET_MAX bytes. */
int tsig_key_secret(struct tsig_key *key, const char *b64);

/* The TSIG RR, when it is the last RR of the additional section.
 * Returns 1 when found, 0 when the message has none, -1 when malformed
 * (a TSIG that is not last, a truncated RR). */
int tsig_find(const uint8_t *msg, size_t len, struct tsig_rr *t);

/* Sign msg (len bytes, room for max) in place: append a TSIG RR and
 * bump ARCOUNT. req_mac: the request's MAC when msg answers it (NULL for
 * a request). mac gets the MAC (TSIG_MAC_MAX bytes). Returns the new
 * length, 0 when it does not fit. */
size_t tsig_sign(const struct tsig_key *key, uint8_t *msg, size_t len, size_t max,
		 const uint8_t *req_mac, size_t req_mac_len, uint64_t now, uint8_t *mac,
		 size_t *mac_len);

/* Server side: check a request's TSIG against key (NULL: no key of that
 * name). Returns 0 or a tsig_error. */
int tsig_verify_request(const struct tsig_key *key, const uint8_t *msg, size_t len,
			const struct tsig_rr *t, uint64_t now);

/* An unsigned error response's TSIG (RFC 8945 5.2): the request's key and
 * algorithm names, MAC size 0, error set. Returns the new length, 0 when it
 * does not fit. */
size_t tsig_append_error(uint8_t *msg, size_t len, size_t max, const struct tsig_rr *req,
			 uint16_t error, uint64_t now);

/* Client side: the responses to one signed request, in order. */
struct tsig_stream {
	const struct tsig_key *key;
	uint8_t mac[TSIG_MAC_MAX]; /* the request's, then the last signed response's */
	size_t mac_len;
	void *run; /* HMAC over the unsigned messages since */
	unsigned nsigned, unsigned_run;
};

void tsig_stream_init(struct tsig_stream *s, const struct tsig_key *key, const uint8_t *req_mac,
		      size_t req_mac_len);
/* One response message: 0 when it verifies (or may be unsigned here),
 * else -1 with why. msg is not changed. */
int tsig_stream_next(struct tsig_stream *s, const uint8_t *msg, size_t len, uint64_t now,
		     const char **why);
/* The transfer ended: the last message must have been signed. */
int tsig_stream_end(struct tsig_stream *s, const char **why);
void tsig_stream_free(struct tsig_stream *s);

#endif
