/* cookie.h -- DNS Cookies (RFC 7873) with interoperable server cookies
 * (RFC 9018): version 1, timestamp, SipHash-2-4 over client cookie,
 * version, reserved, timestamp and client address. */
#ifndef CAROUSEL_COOKIE_H
#define CAROUSEL_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COOKIE_OPTION 10
#define COOKIE_CLIENT_LEN 8
#define COOKIE_SERVER_LEN 16
#define COOKIE_MAX_AGE 3600  /* RFC 9018 4.3: an hour old at most */
#define COOKIE_RENEW_AGE 1800 /* ... and renewed after half an hour */
#define COOKIE_SKEW 300      /* five minutes in the future */

/* The 16-byte server cookie for client at time ts. ip is 4 or 16 bytes. */
void cookie_make(const uint8_t secret[16], const uint8_t client[8], const uint8_t *ip,
		 size_t ip_len, uint32_t ts, uint8_t out[16]);

enum cookie_state {
	COOKIE_INVALID, /* not ours (or malformed, old, from the future) */
	COOKIE_VALID,   /* ours and fresh: echo it */
	COOKIE_WORN,    /* ours but older than half an hour: renew it */
};

/* Check a server cookie (8..32 bytes) a client returned. */
enum cookie_state cookie_check(const uint8_t secret[16], const uint8_t client[8],
			       const uint8_t *server, size_t server_len, const uint8_t *ip,
			       size_t ip_len, uint32_t now);

#endif
