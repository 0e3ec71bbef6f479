/* siphash_round.h -- SipHash's round, one copy for lib/siphash.c and the
 * XDP program (bpf/carousel.bpf.c): plain macros, no includes. Needs
 * 64-bit unsigned v0..v3 in scope. */
#ifndef CAROUSEL_SIPHASH_ROUND_H
#define CAROUSEL_SIPHASH_ROUND_H

#define SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                           \
	do {                                                                               \
		v0 += v1;                                                                  \
		v1 = SIP_ROTL(v1, 13);                                                     \
		v1 ^= v0;                                                                  \
		v0 = SIP_ROTL(v0, 32);                                                     \
		v2 += v3;                                                                  \
		v3 = SIP_ROTL(v3, 16);                                                     \
		v3 ^= v2;                                                                  \
		v0 += v3;                                                                  \
		v3 = SIP_ROTL(v3, 21);                                                     \
		v3 ^= v0;                                                                  \
		v2 += v1;                                                                  \
		v1 = SIP_ROTL(v1, 17);                                                     \
		v1 ^= v2;                                                                  \
		v2 = SIP_ROTL(v2, 32);                                                     \
	} while (0)

#endif
