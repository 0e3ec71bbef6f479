/* entry_hash.h -- the mixing steps of an entry's key (lib/entry.h
 * entry_digest), in plain C without includes so that the XDP program
 * computes the very same key. */
#ifndef CAROUSEL_ENTRY_HASH_H
#define CAROUSEL_ENTRY_HASH_H

#define ENTRY_HASH_SEED 0x9e3779b97f4a7c15ULL
#define ENTRY_HASH_MUL 0xff51afd7ed558ccdULL

/* ASCII upper case to lower case in eight bytes at once: a byte in
 * 'A'..'Z' gets 0x20 added, byte by byte (no carry crosses a byte), so
 * the same in either byte order. Label length bytes are below 'A': a
 * whole wire name can be folded. */
static inline unsigned long long entry_fold_case8(unsigned long long w)
{
	unsigned long long h = w & 0x7f7f7f7f7f7f7f7fULL;
	unsigned long long ge_a = h + 0x3f3f3f3f3f3f3f3fULL; /* bit 7: byte >= 'A' */
	unsigned long long gt_z = h + 0x2525252525252525ULL; /* bit 7: byte > 'Z' */

	return w | (((ge_a ^ gt_z) & ~w & 0x8080808080808080ULL) >> 2);
}

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
