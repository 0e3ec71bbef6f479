/* entry_hash.h -- the mixing steps of an entry's key (lib/entry.h
 * entry_digest), in plain C without includes so that the XDP program
 * computes the very same key. */
#ifndef CAROUSEL_ENTRY_HASH_H
#define CAROUSEL_ENTRY_HASH_H

#define ENTRY_HASH_SEED 0x9e3779b97f4a7c15ULL
#define ENTRY_HASH_MUL 0xff51afd7ed558ccdULL

/* One little-endian word of the lower-case wire name (the last one
 * zero-padded). */
static inline unsigned long long entry_hash_word(unsigned long long h, unsigned long long w)
{
	h = (h ^ w) * ENTRY_HASH_MUL;
	return h ^ (h >> 32);
}

static inline unsigned long long entry_hash_finish(unsigned long long h, unsigned short qtype,
						   unsigned short qclass)
{
	h = entry_hash_word(h, (unsigned long long)qtype << 16 | qclass);
	return h ^ (h >> 29);
}

#endif
