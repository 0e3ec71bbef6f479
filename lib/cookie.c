/* cookie.c -- RFC 9018 server cookies. */
#include "cookie.h"

#include <string.h>

#include "siphash.h"

static uint64_t mac(const uint8_t secret[16], const uint8_t client[8], const uint8_t head[8],
		    const uint8_t *ip, size_t ip_len)
{
	uint8_t in[8 + 8 + 16];

	memcpy(in, client, 8);
	memcpy(in + 8, head, 8); /* version, reserved, timestamp as sent */
	memcpy(in + 16, ip, ip_len);
	return siphash24(secret, in, 16 + ip_len);
}

void cookie_make(const uint8_t secret[16], const uint8_t client[8], const uint8_t *ip,
		 size_t ip_len, uint32_t ts, uint8_t out[16])
{
	uint8_t head[8] = {1, 0, 0, 0, (uint8_t)(ts >> 24), (uint8_t)(ts >> 16), (uint8_t)(ts >> 8),
			   (uint8_t)ts};
	uint64_t h = mac(secret, client, head, ip, ip_len);

	memcpy(out, head, 8);
	for (int i = 0; i < 8; i++)
		out[8 + i] = (uint8_t)(h >> (8 * i)); /* SipHash's little-endian output */
}

enum cookie_state cookie_check(const uint8_t secret[16], const uint8_t client[8],
			       const uint8_t *server, size_t server_len, const uint8_t *ip,
			       size_t ip_len, uint32_t now)
{
	if (server_len != COOKIE_SERVER_LEN || server[0] != 1)
		return COOKIE_INVALID;
	uint32_t ts = (uint32_t)server[4] << 24 | (uint32_t)server[5] << 16 |
		      (uint32_t)server[6] << 8 | server[7];
	int32_t age = (int32_t)(now - ts); /* serial arithmetic: survives the wrap */

	if (age > COOKIE_MAX_AGE || age < -COOKIE_SKEW)
		return COOKIE_INVALID;
	uint64_t h = mac(secret, client, server, ip, ip_len);

	for (int i = 0; i < 8; i++)
		if (server[8 + i] != (uint8_t)(h >> (8 * i)))
			return COOKIE_INVALID;
	return age > COOKIE_RENEW_AGE ? COOKIE_WORN : COOKIE_VALID;
}
