/* siphash.h -- SipHash-2-4 (Aumasson & Bernstein), 64-bit output: the MAC
 * of RFC 9018 server cookies. */
#ifndef CAROUSEL_SIPHASH_H
#define CAROUSEL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* Returns the 64-bit tag; written out little-endian, as the reference. */
uint64_t siphash24(const uint8_t key[16], const uint8_t *data, size_t len);

#endif
