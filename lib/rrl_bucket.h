/* rrl_bucket.h -- response rate limiting's per-prefix arithmetic (as
 * Knot's mod-rrl), one source for carouseld's shared table
 * (control/rrl.c), the DPDK workers' tables and the XDP program: plain C
 * without includes. A bucket is one 64-bit word, tag:32 | second:16 |
 * count:16. */
#ifndef CAROUSEL_RRL_BUCKET_H
#define CAROUSEL_RRL_BUCKET_H

enum rrl_verdict { RRL_PASS, RRL_SLIP, RRL_DROP };

/* The client's prefix key (the address masked to `bits`, 4 or 16 bytes,
 * then the family) hashed: FNV-1a over 17 bytes. */
static inline unsigned long long rrl_prefix_hash(const unsigned char *addr, int v6,
						 unsigned bits)
{
	unsigned long long h = 0xcbf29ce484222325ULL;

	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
		unsigned char c = i < (v6 ? 16u : 4u) ? addr[i] : 0;

		if (keep < 8)
			c &= (unsigned char)(0xff00 >> keep);
		h = (h ^ c) * 0x100000001b3ULL;
	}
	return (h ^ (v6 ? 6 : 4)) * 0x100000001b3ULL;
}

/* The bucket after one more response from the prefix with hash h in
 * second sec (another prefix or another second starts it over). */
static inline unsigned long long rrl_bucket_next(unsigned long long old, unsigned long long h,
						 unsigned sec)
{
	unsigned tag = (unsigned)(h >> 32), count = (unsigned)(old & 0xffff);

	if ((unsigned)(old >> 32) != tag || (unsigned)((old >> 16) & 0xffff) != (sec & 0xffff))
		count = 0;
	if (count < 0xffff)
		count++;
	return (unsigned long long)tag << 32 | (unsigned long long)(sec & 0xffff) << 16 | count;
}

/* Whether the bucket's response is past `rate`: limited. */
static inline int rrl_over(unsigned long long bucket, unsigned rate)
{
	return (unsigned)(bucket & 0xffff) > rate;
}

/* A limited response is dropped, but one in `slip` goes out truncated
 * (slip 0: none), chosen by `roll`, a random number the caller draws
 * only for a limited response, as Knot's mod-rrl rolls a die. A rule by
 * count (every slip-th) let a flood whose bursts keep the count's parity
 * decide the fate of every other client of its prefix: each of their
 * queries landed on a count that drops, and none ever saw the TC that
 * sends it to TCP. */
static inline enum rrl_verdict rrl_limited(unsigned slip, unsigned roll)
{
	return slip && roll % slip == 0 ? RRL_SLIP : RRL_DROP;
}

#endif
