/*
 * sample_abi.h: the contract between the sample enclave and the code that
 * loads and enters it.
 *
 * Included by the enclave's own sources (C and assembly, freestanding) and
 * by host-side code and tests, so it uses nothing but <stdint.h> in its C
 * part.  It fixes the thread layout the image is built with, the operation
 * numbers enclave_main() dispatches on, the status values the enclave
 * returns, and the heap pattern of the fill/checksum operations, so that a
 * host can predict every result.  enclave/README.md describes the image
 * layout and entry ABI in words.
 */
#ifndef SGXEMU_SAMPLE_ABI_H
#define SGXEMU_SAMPLE_ABI_H

/* --- Thread layout ------------------------------------------------------ */

#define SAMPLE_PAGE_SIZE 4096
/* Number of TCS pages, i.e. threads that can be inside at once. */
#define SAMPLE_NR_TCS 4
/* SSA frames per TCS (TCS.NSSA); each frame is one page, so the SECS must
 * be created with SSAFRAMESIZE = SAMPLE_SSA_FRAME_PAGES. */
#define SAMPLE_NSSA 2
#define SAMPLE_SSA_FRAME_PAGES 1
/* Enclave stack of each TCS, in bytes (a multiple of the page size). */
#define SAMPLE_STACK_SIZE (16 * 1024)
/* TCS.FSLIMIT and TCS.GSLIMIT: the thread control block is one page. */
#define SAMPLE_SEG_LIMIT 0xfff
/* First word of every thread control block page (OFSBASE/OGSBASE). */
#define SAMPLE_TCB_MAGIC 0x424354656c706d73 /* "smpleTCB" */

/* The largest heap the fill operations touch, in pages, counted from
 * __enclave_end.  The loader decides how much of it exists; touching a
 * heap page that was not added faults like any other missing page. */
#define SAMPLE_HEAP_MAX_PAGES (1 << 18) /* 1 GiB */

/* --- Operations (RDI on entry) ------------------------------------------ */

/* a1 + a2. */
#define SAMPLE_OP_ADD 0
/* Fill heap pages [a3, a3 + a2) with the pattern of seed a1; returns the
 * checksum of what was written (>= 0), or SAMPLE_EINVAL. */
#define SAMPLE_OP_FILL 1
/* Checksum of heap pages [a3, a3 + a2) as they are now (>= 0), or
 * SAMPLE_EINVAL.  Equals OP_FILL's result when the pages are intact. */
#define SAMPLE_OP_CHECKSUM 2
/* Fault on purpose, for AEX tests; a1 selects how (SAMPLE_FAULT_*). */
#define SAMPLE_OP_FAULT 3
/* EREPORT (a3 = 0) or EGETKEY (a3 = 1): a2 points to the input outside the
 * enclave, a1 to the output outside the enclave.  Returns 0, an SGX error
 * code from EGETKEY, or SAMPLE_EINVAL. */
#define SAMPLE_OP_KEYS 4
/* Number of heap pages in [a3, a3 + a2) that hold seed a1's pattern, or
 * SAMPLE_EINVAL. */
#define SAMPLE_OP_VERIFY 5
/* Index (0..SAMPLE_NR_TCS-1) of the TCS the caller entered with. */
#define SAMPLE_OP_TCS_INDEX 6

/* Counters and image words, to check a loader's work; a1 selects
 * (SAMPLE_STAT_*). */
#define SAMPLE_OP_STATS 7

/* Seal (a3 = KEYPOLICY) the SAMPLE_SEAL_DATA bytes at a2 into the
 * SAMPLE_SEAL_BLOB bytes at a1: EGETKEY(SEAL) with a fresh KEYID, the data
 * enciphered and tagged with that key inside the enclave.  Returns 0, an
 * EGETKEY error, or SAMPLE_EINVAL. */
#define SAMPLE_OP_SEAL 8
/* Unseal the blob at a2 into the SAMPLE_SEAL_DATA bytes at a1: 0, an
 * EGETKEY error, or SAMPLE_EBADMSG when the tag does not verify (another
 * enclave's or signer's key, a changed blob). */
#define SAMPLE_OP_UNSEAL 9
/* Thread-local data through FS and GS: checks that both bases are the
 * caller's TCB (magic and index), adds a1 to its tls_value and returns
 * the new value; SAMPLE_BAD_TLS if the bases are wrong. */
#define SAMPLE_OP_TLS 10
/* Spins, with *(uint64_t *)a1 = 1 first, until the word at a2 (outside
 * the enclave) is non-zero; returns the loops made.  For tests that need
 * a thread to stay inside. */
#define SAMPLE_OP_SPIN 11

/* SAMPLE_OP_FAULT kinds (a1). */
#define SAMPLE_FAULT_UD2 0 /* #UD; not resumable */
#define SAMPLE_FAULT_READ 1 /* reads 8 bytes at a2 (0: #PF); returns them */
#define SAMPLE_FAULT_WRITE_RO 2 /* writes the enclave's read-only data: #PF */
#define SAMPLE_FAULT_INT3 3 /* #BP, a trap: resuming returns SAMPLE_FAULT_INT3 */
#define SAMPLE_FAULT_DIV0 4 /* #DE: divides by a2 (0 faults); returns 1000 / a2 */
#define SAMPLE_FAULT_WRITE_TCS 5 /* writes its own TCS page: #PF by EPCM permissions */
#define SAMPLE_FAULT_WRITE 6 /* writes 8 bytes at a2; returns SAMPLE_FAULT_WRITE */

/* SAMPLE_OP_SEAL and _UNSEAL: the sealed blob is keypolicy (2 bytes),
 * isvsvn (2), 4 reserved, KEYID (32), the enciphered data, a 16-byte tag.
 * The cipher is a keyed mixing function, enough to show that only the
 * right key opens the blob; it is no real cryptography. */
#define SAMPLE_SEAL_DATA 64
#define SAMPLE_SEAL_BLOB (8 + 32 + SAMPLE_SEAL_DATA + 16)

/* SAMPLE_OP_KEYS sub-operations (a3). */
#define SAMPLE_KEYS_EREPORT 0 /* in: TARGETINFO (512) + REPORTDATA (64); out: REPORT (432) */
#define SAMPLE_KEYS_EGETKEY 1 /* in: KEYREQUEST (512); out: key (16) */
#define SAMPLE_KEYS_EREPORT_IN_SIZE (512 + 64)
#define SAMPLE_KEYS_EREPORT_OUT_SIZE 432
#define SAMPLE_KEYS_EGETKEY_IN_SIZE 512
#define SAMPLE_KEYS_EGETKEY_OUT_SIZE 16

/* SAMPLE_OP_STATS selectors (a1). */
#define SAMPLE_STAT_CALLS 0 /* calls completed by all threads, before this one */
#define SAMPLE_STAT_THREAD_CALLS 1 /* calls completed on the caller's TCS */
#define SAMPLE_STAT_DATA_WORD 2 /* a word of .data: SAMPLE_DATA_WORD */
#define SAMPLE_STAT_RO_WORD 3 /* a word of .rodata: SAMPLE_RO_WORD */
#define SAMPLE_DATA_WORD 0x617461642d6c706dLL /* "mpl-data" */
#define SAMPLE_RO_WORD 0x6f722d656c706d73LL /* "smple-ro" */

/* --- Results (RDX at EEXIT) --------------------------------------------- */

/* Entered with CSSA > 0: the exception-handler entry returns at once. */
#define SAMPLE_EXCEPTION_ENTRY (-2)
/* RBX on entry was not one of this image's TCS pages (cannot happen on a
 * correct processor). */
#define SAMPLE_BAD_TCS (-3)
/* Bad operation number or argument. */
#define SAMPLE_EINVAL (-22)
/* A sealed blob whose tag does not verify. */
#define SAMPLE_EBADMSG (-74)
/* FS or GS is not the caller's thread control block. */
#define SAMPLE_BAD_TLS (-5)

#ifndef __ASSEMBLER__
#include <stdint.h>

/*
 * The heap pattern: word i (0..511) of heap page p (counted from
 * __enclave_end, not from the first page filled) for a given seed.  The
 * page index is part of the value, so a page that comes back at the wrong
 * place does not verify.
 */
static inline uint64_t sample_pattern(uint64_t seed, uint64_t page, uint64_t word)
{
	uint64_t x = seed + (page * (SAMPLE_PAGE_SIZE / 8) + word + 1) *
				    0x9e3779b97f4a7c15ULL;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The checksum: 64-bit FNV-1a over the words in address order, one word
 * at a time, with the top bit cleared so that it never looks like an error. */
#define SAMPLE_CHECKSUM_INIT 0xcbf29ce484222325ULL
static inline uint64_t sample_checksum_step(uint64_t sum, uint64_t word)
{
	return (sum ^ word) * 0x100000001b3ULL;
}
static inline long sample_checksum_final(uint64_t sum)
{
	return (long)(sum & 0x7fffffffffffffffULL);
}

/* The thread control block at the start of each OFSBASE/OGSBASE page. */
struct sample_tcb {
	uint64_t magic; /* SAMPLE_TCB_MAGIC */
	uint64_t index; /* which TCS this page belongs to */
	uint64_t nr_calls; /* completed enclave_main() calls by this TCS */
	uint64_t tls_value; /* SAMPLE_OP_TLS's thread-local word (FS:24) */
};
#endif /* !__ASSEMBLER__ */

#endif /* SGXEMU_SAMPLE_ABI_H */
