/*
 * arch.h: structures and constants that the SGX architecture defines.
 *
 * Everything here is fixed by the processor: layouts of the control
 * structures that ENCLS/ENCLU take and return, leaf numbers, error codes,
 * attribute and SECINFO bits, and the records MRENCLAVE is built from.
 * Data structures defined by sgxemu's own software stack must not be placed
 * here.  Every structure is packed and every size and field offset is
 * checked at compile time at the bottom of this file.
 */
#ifndef SGXEMU_ARCH_H
#define SGXEMU_ARCH_H

#include <stddef.h>
#include <stdint.h>

#define SGX_PAGE_SIZE 4096UL
#define SGX_PAGE_SHIFT 12

/* ENCLS leaf functions (EAX on entry). */
enum sgx_encls_function {
	ECREATE = 0x00,
	EADD = 0x01,
	EINIT = 0x02,
	EREMOVE = 0x03,
	EDBGRD = 0x04,
	EDBGWR = 0x05,
	EEXTEND = 0x06,
	ELDB = 0x07,
	ELDU = 0x08,
	EBLOCK = 0x09,
	EPA = 0x0A,
	EWB = 0x0B,
	ETRACK = 0x0C,
	EAUG = 0x0D,
	EMODPR = 0x0E,
	EMODT = 0x0F,
	EUPDATESVN = 0x18,
};

/* ENCLU leaf functions. */
enum sgx_enclu_function {
	EREPORT = 0x00,
	EGETKEY = 0x01,
	EENTER = 0x02,
	ERESUME = 0x03,
	EEXIT = 0x04,
	EACCEPT = 0x05,
	EMODPE = 0x06,
	EACCEPTCOPY = 0x07,
};

/* Error codes an ENCLS/ENCLU leaf returns in EAX (0 is success). */
enum sgx_return_code {
	SGX_SUCCESS = 0,
	SGX_INVALID_SIG_STRUCT = 1,
	SGX_INVALID_ATTRIBUTE = 2,
	SGX_BLKSTATE = 3,
	SGX_INVALID_MEASUREMENT = 4,
	SGX_NOTBLOCKABLE = 5,
	SGX_PG_INVLD = 6,
	SGX_EPC_PAGE_CONFLICT = 7,
	SGX_INVALID_SIGNATURE = 8,
	SGX_MAC_COMPARE_FAIL = 9,
	SGX_PAGE_NOT_BLOCKED = 10,
	SGX_NOT_TRACKED = 11,
	SGX_VA_SLOT_OCCUPIED = 12,
	SGX_CHILD_PRESENT = 13,
	SGX_ENCLAVE_ACT = 14,
	SGX_ENTRYEPOCH_LOCKED = 15,
	SGX_INVALID_EINITTOKEN = 16,
	SGX_PREV_TRK_INCMPL = 17,
	SGX_PG_IS_SECS = 18,
	SGX_PAGE_ATTRIBUTES_MISMATCH = 19,
	SGX_PAGE_NOT_MODIFIABLE = 20,
	SGX_PAGE_NOT_DEBUGGABLE = 21,
	SGX_INSUFFICIENT_ENTROPY = 29,
	SGX_INVALID_CPUSVN = 32,
	SGX_INVALID_ISVSVN = 64,
	SGX_UNMASKED_EVENT = 128,
	SGX_INVALID_KEYNAME = 256,
};

/* SECS.ATTRIBUTES.FLAGS bits. */
#define SGX_ATTR_INIT (1ULL << 0)
#define SGX_ATTR_DEBUG (1ULL << 1)
#define SGX_ATTR_MODE64BIT (1ULL << 2)
#define SGX_ATTR_PROVISIONKEY (1ULL << 4)
#define SGX_ATTR_EINITTOKENKEY (1ULL << 5)
#define SGX_ATTR_KSS (1ULL << 7)
#define SGX_ATTR_AEXNOTIFY (1ULL << 10)
/* Bits 3, 6, 8, 9 and 63:11 are reserved and must be zero. */
#define SGX_ATTR_RESERVED_MASK                                                 \
	((1ULL << 3) | (1ULL << 6) | (1ULL << 8) | (1ULL << 9) |               \
	 ~((1ULL << 11) - 1))
/* Attributes a SECS may not request directly. */
#define SGX_ATTR_UNPRIV_MASK                                                   \
	(SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT | SGX_ATTR_KSS | SGX_ATTR_AEXNOTIFY)
#define SGX_ATTR_PRIV_MASK (SGX_ATTR_PROVISIONKEY | SGX_ATTR_EINITTOKENKEY)

/* MISCSELECT bits. */
#define SGX_MISC_EXINFO (1U << 0)
#define SGX_MISC_RESERVED_MASK (~SGX_MISC_EXINFO)

/* XFRM: x87 and SSE are mandatory; the rest is checked for legality. */
#define SGX_XFRM_X87 (1ULL << 0)
#define SGX_XFRM_SSE (1ULL << 1)
#define SGX_XFRM_AVX (1ULL << 2)
#define SGX_XFRM_BNDREGS (1ULL << 3)
#define SGX_XFRM_BNDCSR (1ULL << 4)
#define SGX_XFRM_AVX512 (7ULL << 5)
#define SGX_XFRM_PKRU (1ULL << 9)
#define SGX_XFRM_AMX (3ULL << 17)
#define SGX_XFRM_LEGACY (SGX_XFRM_X87 | SGX_XFRM_SSE)

/* Sizes of the SSA regions that do not depend on XFRM. */
#define SGX_SSA_GPRS_SIZE 184
#define SGX_SSA_MISC_EXINFO_SIZE 16

/* SECINFO.FLAGS bits. */
#define SGX_SECINFO_R (1ULL << 0)
#define SGX_SECINFO_W (1ULL << 1)
#define SGX_SECINFO_X (1ULL << 2)
#define SGX_SECINFO_PERMISSION_MASK (SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X)
#define SGX_SECINFO_PENDING (1ULL << 3)
#define SGX_SECINFO_MODIFIED (1ULL << 4)
#define SGX_SECINFO_PR (1ULL << 5)
#define SGX_SECINFO_PAGE_TYPE_SHIFT 8
#define SGX_SECINFO_PAGE_TYPE_MASK (0xFFULL << SGX_SECINFO_PAGE_TYPE_SHIFT)
/* Bits other than these in the first word are reserved. */
#define SGX_SECINFO_FLAGS_DEFINED                                              \
	(SGX_SECINFO_PERMISSION_MASK | SGX_SECINFO_PENDING |                   \
	 SGX_SECINFO_MODIFIED | SGX_SECINFO_PR | SGX_SECINFO_PAGE_TYPE_MASK)

enum sgx_page_type {
	SGX_PAGE_TYPE_SECS = 0,
	SGX_PAGE_TYPE_TCS = 1,
	SGX_PAGE_TYPE_REG = 2,
	SGX_PAGE_TYPE_VA = 3,
	SGX_PAGE_TYPE_TRIM = 4,
};

#define SGX_SECINFO_SECS (SGX_PAGE_TYPE_SECS << SGX_SECINFO_PAGE_TYPE_SHIFT)
#define SGX_SECINFO_TCS (SGX_PAGE_TYPE_TCS << SGX_SECINFO_PAGE_TYPE_SHIFT)
#define SGX_SECINFO_REG (SGX_PAGE_TYPE_REG << SGX_SECINFO_PAGE_TYPE_SHIFT)
#define SGX_SECINFO_VA (SGX_PAGE_TYPE_VA << SGX_SECINFO_PAGE_TYPE_SHIFT)
#define SGX_SECINFO_TRIM (SGX_PAGE_TYPE_TRIM << SGX_SECINFO_PAGE_TYPE_SHIFT)

/* Key names for EGETKEY. */
enum sgx_key_name {
	SGX_KEYNAME_EINITTOKEN = 0,
	SGX_KEYNAME_PROVISION = 1,
	SGX_KEYNAME_PROVISION_SEAL = 2,
	SGX_KEYNAME_REPORT = 3,
	SGX_KEYNAME_SEAL = 4,
};

/* KEYREQUEST.KEYPOLICY bits. */
#define SGX_KEYPOLICY_MRENCLAVE (1U << 0)
#define SGX_KEYPOLICY_MRSIGNER (1U << 1)
#define SGX_KEYPOLICY_NOISVPRODID (1U << 2)
#define SGX_KEYPOLICY_CONFIGID (1U << 3)
#define SGX_KEYPOLICY_ISVFAMILYID (1U << 4)
#define SGX_KEYPOLICY_ISVEXTPRODID (1U << 5)
#define SGX_KEYPOLICY_RESERVED_MASK (~0x3FU & 0xFFFFU)

/* The end of the fields the SDM's TCS table defines, its SGX_TCS_LIMIT:
 * EDBGRD reads no further into a TCS page; the rest is RESERVED. */
#define SGX_TCS_LIMIT 72

/* TCS.FLAGS bits. */
#define SGX_TCS_DBGOPTIN (1ULL << 0)
#define SGX_TCS_AEXNOTIFY (1ULL << 1)
#define SGX_TCS_RESERVED_MASK (~3ULL)

/* A version-array page holds this many 8-byte slots. */
#define SGX_VA_SLOT_COUNT 512
#define SGX_VA_SLOT_SIZE 8

/* Architectural SIGSTRUCT constants. */
#define SGX_MODULUS_SIZE 384
#define SGX_SIGSTRUCT_EXPONENT 3
#define SGX_SIGSTRUCT_VENDOR_INTEL 0x8086

/* CPUID leaf 0x12. */
#define SGX_CPUID 0x12
#define SGX_CPUID_EPC 2
#define SGX_CPUID_EPC_MASK 0xF
#define SGX_CPUID_EPC_SECTION 0x1
#define SGX_CPUID_SGX1 (1U << 0)
#define SGX_CPUID_SGX2 (1U << 1)
#define SGX_MAX_EPC_SECTIONS 8

/* Model-specific registers. */
#define MSR_IA32_FEAT_CTL 0x3A
#define MSR_IA32_SGXLEPUBKEYHASH0 0x8C
#define MSR_IA32_SGXLEPUBKEYHASH3 0x8F
#define FEAT_CTL_LOCKED (1ULL << 0)
#define FEAT_CTL_SGX_LC_ENABLED (1ULL << 17)
#define FEAT_CTL_SGX_ENABLED (1ULL << 18)

/* Tags of the 64-byte records MRENCLAVE accumulates. */
#define SGX_MEAS_TAG_ECREATE 0x0045544145524345ULL /* "ECREATE\0" */
#define SGX_MEAS_TAG_EADD 0x0000000044444145ULL /* "EADD\0\0\0\0" */
#define SGX_MEAS_TAG_EEXTEND 0x00444E4554584545ULL /* "EEXTEND\0" */
#define SGX_EEXTEND_CHUNK 256

#define __sgx_packed __attribute__((packed))

struct sgx_attributes {
	uint64_t flags;
	uint64_t xfrm;
} __sgx_packed;

/* SGX Enclave Control Structure: one per enclave, in its own EPC page. */
struct sgx_secs {
	uint64_t size;
	uint64_t base;
	uint32_t ssa_frame_size; /* in pages */
	uint32_t miscselect;
	uint8_t reserved1[24];
	uint64_t attributes;
	uint64_t xfrm;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t config_id[64];
	uint16_t isv_prod_id;
	uint16_t isv_svn;
	uint16_t config_svn;
	uint8_t reserved4[3834];
} __sgx_packed;

/* Thread Control Structure. */
struct sgx_tcs {
	uint64_t state;
	uint64_t flags;
	uint64_t ssa_offset;
	uint32_t ssa_index;
	uint32_t nr_ssa_frames;
	uint64_t entry_offset;
	uint64_t exit_addr;
	uint64_t fs_offset;
	uint64_t gs_offset;
	uint32_t fs_limit;
	uint32_t gs_limit;
	uint8_t reserved[4024];
} __sgx_packed;

/* PAGEINFO: the operand of EADD, ECREATE, EWB, ELDU/ELDB and EAUG. */
struct sgx_pageinfo {
	uint64_t addr; /* enclave linear address */
	uint64_t contents; /* source page, or destination of EWB */
	uint64_t metadata; /* SECINFO, or PCMD for EWB/ELDU */
	uint64_t secs; /* SECS EPC page, or 0 */
} __attribute__((packed, aligned(32)));

struct sgx_secinfo {
	uint64_t flags;
	uint8_t reserved[56];
} __attribute__((packed, aligned(64)));

/* Paging Crypto MetaData, produced by EWB and checked by ELDU/ELDB. */
struct sgx_pcmd {
	struct sgx_secinfo secinfo;
	uint64_t enclave_id;
	uint8_t reserved[40];
	uint8_t mac[16];
} __attribute__((packed, aligned(128)));

struct sgx_sigstruct_header {
	uint64_t header1[2];
	uint32_t vendor;
	uint32_t date;
	uint64_t header2[2];
	uint32_t swdefined;
	uint8_t reserved1[84];
} __sgx_packed;

/*
 * The signed body, as Intel's css_body_t lays it out.  ISVFAMILYID and
 * ISVEXTPRODID belong to key separation and sharing (KSS): EINIT copies
 * them into the enclave's identity, and EGETKEY's ISVFAMILYID and
 * ISVEXTPRODID key policies and EREPORT read them there.  Bytes 908..911
 * (SIGSTRUCT offsets) carry CET_ATTRIBUTES and CET_ATTRIBUTES_MASK on
 * parts with CET in enclaves; the model has none and does not look at
 * them.  RESERVED3 is the one reserved range of the body.
 */
struct sgx_sigstruct_body {
	uint32_t miscselect;
	uint32_t misc_mask;
	uint8_t cet[4]; /* CET_ATTRIBUTES, CET_ATTRIBUTES_MASK, 2 bytes */
	uint8_t isvfamilyid[16];
	uint64_t attributes;
	uint64_t xfrm;
	uint64_t attributes_mask;
	uint64_t xfrm_mask;
	uint8_t mrenclave[32];
	uint8_t reserved3[16];
	uint8_t isvextprodid[16];
	uint16_t isvprodid;
	uint16_t isvsvn;
} __sgx_packed;

/* SIGSTRUCT: the enclave author's signed statement of its identity. */
struct sgx_sigstruct {
	struct sgx_sigstruct_header header;
	uint8_t modulus[SGX_MODULUS_SIZE];
	uint32_t exponent;
	uint8_t signature[SGX_MODULUS_SIZE];
	struct sgx_sigstruct_body body;
	uint8_t reserved4[12];
	uint8_t q1[SGX_MODULUS_SIZE];
	uint8_t q2[SGX_MODULUS_SIZE];
} __sgx_packed;

/* The architectural header words (little-endian bytes as they sit in memory). */
#define SGX_SIGSTRUCT_HEADER1_0 0x000000E100000006ULL
#define SGX_SIGSTRUCT_HEADER1_1 0x0000000000010000ULL
#define SGX_SIGSTRUCT_HEADER2_0 0x0000006000000101ULL
#define SGX_SIGSTRUCT_HEADER2_1 0x0000000100000060ULL

/* EINITTOKEN: the launch enclave's permission to launch, MACed with the launch key. */
struct sgx_einittoken {
	uint32_t valid;
	uint8_t reserved1[44];
	struct sgx_attributes attributes;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t cpusvnle[16];
	uint16_t isvprodidle;
	uint16_t isvsvnle;
	uint8_t reserved4[24];
	uint32_t maskedmiscselectle;
	struct sgx_attributes maskedattributesle;
	uint8_t keyid[32];
	uint8_t mac[16];
} __attribute__((packed, aligned(512)));
/* The MAC covers the token from VALID through RESERVED3. */
#define SGX_EINITTOKEN_MACED_SIZE 192

struct sgx_report_body {
	uint8_t cpusvn[16];
	uint32_t miscselect;
	uint8_t reserved1[12];
	uint8_t isvextprodid[16];
	struct sgx_attributes attributes;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t config_id[64];
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint16_t config_svn;
	uint8_t reserved4[42];
	uint8_t isvfamilyid[16];
	uint8_t report_data[64];
} __sgx_packed;

/* REPORT: EREPORT's output, MACed with the target enclave's report key. */
struct sgx_report {
	struct sgx_report_body body;
	uint8_t keyid[32];
	uint8_t mac[16];
} __attribute__((packed, aligned(512)));

/* TARGETINFO: names the enclave a REPORT is meant for. */
struct sgx_targetinfo {
	uint8_t mrenclave[32];
	struct sgx_attributes attributes;
	uint8_t reserved1[2];
	uint16_t config_svn;
	uint32_t miscselect;
	uint8_t reserved2[8];
	uint8_t config_id[64];
	uint8_t reserved3[384];
} __attribute__((packed, aligned(512)));

/* KEYREQUEST: EGETKEY's input. */
struct sgx_keyrequest {
	uint16_t keyname;
	uint16_t keypolicy;
	uint16_t isvsvn;
	uint8_t reserved1[2];
	uint8_t cpusvn[16];
	struct sgx_attributes attributemask;
	uint8_t keyid[32];
	uint32_t miscmask;
	uint16_t config_svn;
	uint8_t reserved2[434];
} __attribute__((packed, aligned(512)));

/* The general-purpose register region at the end of every SSA frame. */
struct sgx_gprsgx {
	uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rflags;
	uint64_t rip;
	uint64_t ursp;
	uint64_t urbp;
	uint32_t exitinfo;
	uint32_t reserved;
	uint64_t fsbase;
	uint64_t gsbase;
} __sgx_packed;

/* GPRSGX.EXITINFO: vector in bits 7:0, type in 10:8, valid in bit 31. */
#define SGX_EXITINFO_VECTOR_MASK 0xFFU
#define SGX_EXITINFO_TYPE_SHIFT 8
#define SGX_EXITINFO_TYPE_HW 3
#define SGX_EXITINFO_TYPE_SW 6
#define SGX_EXITINFO_VALID (1U << 31)

/* MISC region EXINFO, just below GPRSGX when MISCSELECT.EXINFO is set. */
struct sgx_exinfo {
	uint64_t maddr;
	uint32_t errcd;
	uint32_t reserved;
} __sgx_packed;

/* The 64-byte records MRENCLAVE hashes (and the SGXS stream stores). */
struct sgx_meas_ecreate {
	uint64_t tag;
	uint32_t ssa_frame_size;
	uint64_t size;
	uint8_t reserved[44];
} __sgx_packed;

struct sgx_meas_eadd {
	uint64_t tag;
	uint64_t offset;
	uint64_t secinfo_flags;
	uint8_t reserved[40];
} __sgx_packed;

struct sgx_meas_eextend {
	uint64_t tag;
	uint64_t offset;
	uint8_t reserved[48];
} __sgx_packed;

/* x86 exception vectors the leaves report as faults. */
#define X86_TRAP_UD 6
#define X86_TRAP_GP 13
#define X86_TRAP_PF 14

#define SGX_ASSERT_LAYOUT(type, field, off)                                    \
	_Static_assert(offsetof(struct type, field) == (off),                  \
		       #type "." #field " must be at offset " #off)
#define SGX_ASSERT_SIZE(type, size)                                            \
	_Static_assert(sizeof(struct type) == (size),                          \
		       "struct " #type " must be " #size " bytes")

SGX_ASSERT_SIZE(sgx_attributes, 16);

SGX_ASSERT_SIZE(sgx_secs, 4096);
SGX_ASSERT_LAYOUT(sgx_secs, size, 0);
SGX_ASSERT_LAYOUT(sgx_secs, base, 8);
SGX_ASSERT_LAYOUT(sgx_secs, ssa_frame_size, 16);
SGX_ASSERT_LAYOUT(sgx_secs, miscselect, 20);
SGX_ASSERT_LAYOUT(sgx_secs, reserved1, 24);
SGX_ASSERT_LAYOUT(sgx_secs, attributes, 48);
SGX_ASSERT_LAYOUT(sgx_secs, xfrm, 56);
SGX_ASSERT_LAYOUT(sgx_secs, mrenclave, 64);
SGX_ASSERT_LAYOUT(sgx_secs, reserved2, 96);
SGX_ASSERT_LAYOUT(sgx_secs, mrsigner, 128);
SGX_ASSERT_LAYOUT(sgx_secs, reserved3, 160);
SGX_ASSERT_LAYOUT(sgx_secs, config_id, 192);
SGX_ASSERT_LAYOUT(sgx_secs, isv_prod_id, 256);
SGX_ASSERT_LAYOUT(sgx_secs, isv_svn, 258);
SGX_ASSERT_LAYOUT(sgx_secs, config_svn, 260);
SGX_ASSERT_LAYOUT(sgx_secs, reserved4, 262);

SGX_ASSERT_SIZE(sgx_tcs, 4096);
SGX_ASSERT_LAYOUT(sgx_tcs, state, 0);
SGX_ASSERT_LAYOUT(sgx_tcs, flags, 8);
SGX_ASSERT_LAYOUT(sgx_tcs, ssa_offset, 16);
SGX_ASSERT_LAYOUT(sgx_tcs, ssa_index, 24);
SGX_ASSERT_LAYOUT(sgx_tcs, nr_ssa_frames, 28);
SGX_ASSERT_LAYOUT(sgx_tcs, entry_offset, 32);
SGX_ASSERT_LAYOUT(sgx_tcs, exit_addr, 40);
SGX_ASSERT_LAYOUT(sgx_tcs, fs_offset, 48);
SGX_ASSERT_LAYOUT(sgx_tcs, gs_offset, 56);
SGX_ASSERT_LAYOUT(sgx_tcs, fs_limit, 64);
SGX_ASSERT_LAYOUT(sgx_tcs, gs_limit, 68);
SGX_ASSERT_LAYOUT(sgx_tcs, reserved, SGX_TCS_LIMIT);

SGX_ASSERT_SIZE(sgx_pageinfo, 32);
SGX_ASSERT_LAYOUT(sgx_pageinfo, addr, 0);
SGX_ASSERT_LAYOUT(sgx_pageinfo, contents, 8);
SGX_ASSERT_LAYOUT(sgx_pageinfo, metadata, 16);
SGX_ASSERT_LAYOUT(sgx_pageinfo, secs, 24);

SGX_ASSERT_SIZE(sgx_secinfo, 64);
SGX_ASSERT_LAYOUT(sgx_secinfo, flags, 0);
SGX_ASSERT_LAYOUT(sgx_secinfo, reserved, 8);

SGX_ASSERT_SIZE(sgx_pcmd, 128);
SGX_ASSERT_LAYOUT(sgx_pcmd, secinfo, 0);
SGX_ASSERT_LAYOUT(sgx_pcmd, enclave_id, 64);
SGX_ASSERT_LAYOUT(sgx_pcmd, reserved, 72);
SGX_ASSERT_LAYOUT(sgx_pcmd, mac, 112);

SGX_ASSERT_SIZE(sgx_sigstruct_header, 128);
SGX_ASSERT_LAYOUT(sgx_sigstruct_header, header1, 0);
SGX_ASSERT_LAYOUT(sgx_sigstruct_header, vendor, 16);
SGX_ASSERT_LAYOUT(sgx_sigstruct_header, date, 20);
SGX_ASSERT_LAYOUT(sgx_sigstruct_header, header2, 24);
SGX_ASSERT_LAYOUT(sgx_sigstruct_header, swdefined, 40);
SGX_ASSERT_LAYOUT(sgx_sigstruct_header, reserved1, 44);
SGX_ASSERT_SIZE(sgx_sigstruct_body, 128);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, miscselect, 0);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, misc_mask, 4);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, cet, 8);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, isvfamilyid, 12);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, attributes, 28);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, xfrm, 36);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, attributes_mask, 44);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, xfrm_mask, 52);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, mrenclave, 60);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, isvprodid, 124);
SGX_ASSERT_LAYOUT(sgx_sigstruct_body, isvsvn, 126);
SGX_ASSERT_SIZE(sgx_sigstruct, 1808);
SGX_ASSERT_LAYOUT(sgx_sigstruct, modulus, 128);
SGX_ASSERT_LAYOUT(sgx_sigstruct, exponent, 512);
SGX_ASSERT_LAYOUT(sgx_sigstruct, signature, 516);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body, 900);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.attributes, 928);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.xfrm, 936);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.attributes_mask, 944);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.xfrm_mask, 952);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.isvfamilyid, 912);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.mrenclave, 960);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.reserved3, 992);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.isvextprodid, 1008);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.isvprodid, 1024);
SGX_ASSERT_LAYOUT(sgx_sigstruct, body.isvsvn, 1026);
SGX_ASSERT_LAYOUT(sgx_sigstruct, reserved4, 1028);
SGX_ASSERT_LAYOUT(sgx_sigstruct, q1, 1040);
SGX_ASSERT_LAYOUT(sgx_sigstruct, q2, 1424);

SGX_ASSERT_SIZE(sgx_einittoken, 512); /* 304 bytes of fields, 512-aligned */
SGX_ASSERT_LAYOUT(sgx_einittoken, valid, 0);
SGX_ASSERT_LAYOUT(sgx_einittoken, attributes, 48);
SGX_ASSERT_LAYOUT(sgx_einittoken, mrenclave, 64);
SGX_ASSERT_LAYOUT(sgx_einittoken, mrsigner, 128);
SGX_ASSERT_LAYOUT(sgx_einittoken, cpusvnle, 192);
SGX_ASSERT_LAYOUT(sgx_einittoken, isvprodidle, 208);
SGX_ASSERT_LAYOUT(sgx_einittoken, isvsvnle, 210);
SGX_ASSERT_LAYOUT(sgx_einittoken, maskedmiscselectle, 236);
SGX_ASSERT_LAYOUT(sgx_einittoken, maskedattributesle, 240);
SGX_ASSERT_LAYOUT(sgx_einittoken, keyid, 256);
SGX_ASSERT_LAYOUT(sgx_einittoken, mac, 288);
#define SGX_EINITTOKEN_SIZE 304

SGX_ASSERT_SIZE(sgx_report_body, 384);
SGX_ASSERT_LAYOUT(sgx_report_body, cpusvn, 0);
SGX_ASSERT_LAYOUT(sgx_report_body, miscselect, 16);
SGX_ASSERT_LAYOUT(sgx_report_body, isvextprodid, 32);
SGX_ASSERT_LAYOUT(sgx_report_body, attributes, 48);
SGX_ASSERT_LAYOUT(sgx_report_body, mrenclave, 64);
SGX_ASSERT_LAYOUT(sgx_report_body, mrsigner, 128);
SGX_ASSERT_LAYOUT(sgx_report_body, config_id, 192);
SGX_ASSERT_LAYOUT(sgx_report_body, isvprodid, 256);
SGX_ASSERT_LAYOUT(sgx_report_body, isvsvn, 258);
SGX_ASSERT_LAYOUT(sgx_report_body, config_svn, 260);
SGX_ASSERT_LAYOUT(sgx_report_body, isvfamilyid, 304);
SGX_ASSERT_LAYOUT(sgx_report_body, report_data, 320);
SGX_ASSERT_SIZE(sgx_report, 512); /* 432 bytes of fields, 512-aligned */
SGX_ASSERT_LAYOUT(sgx_report, keyid, 384);
SGX_ASSERT_LAYOUT(sgx_report, mac, 416);
#define SGX_REPORT_SIZE 432

SGX_ASSERT_SIZE(sgx_targetinfo, 512);
SGX_ASSERT_LAYOUT(sgx_targetinfo, attributes, 32);
SGX_ASSERT_LAYOUT(sgx_targetinfo, config_svn, 50);
SGX_ASSERT_LAYOUT(sgx_targetinfo, miscselect, 52);
SGX_ASSERT_LAYOUT(sgx_targetinfo, config_id, 64);
SGX_ASSERT_LAYOUT(sgx_targetinfo, reserved3, 128);

SGX_ASSERT_SIZE(sgx_keyrequest, 512);
SGX_ASSERT_LAYOUT(sgx_keyrequest, keypolicy, 2);
SGX_ASSERT_LAYOUT(sgx_keyrequest, isvsvn, 4);
SGX_ASSERT_LAYOUT(sgx_keyrequest, cpusvn, 8);
SGX_ASSERT_LAYOUT(sgx_keyrequest, attributemask, 24);
SGX_ASSERT_LAYOUT(sgx_keyrequest, keyid, 40);
SGX_ASSERT_LAYOUT(sgx_keyrequest, miscmask, 72);
SGX_ASSERT_LAYOUT(sgx_keyrequest, config_svn, 76);
SGX_ASSERT_LAYOUT(sgx_keyrequest, reserved2, 78);

SGX_ASSERT_SIZE(sgx_gprsgx, SGX_SSA_GPRS_SIZE);
SGX_ASSERT_LAYOUT(sgx_gprsgx, rflags, 128);
SGX_ASSERT_LAYOUT(sgx_gprsgx, rip, 136);
SGX_ASSERT_LAYOUT(sgx_gprsgx, ursp, 144);
SGX_ASSERT_LAYOUT(sgx_gprsgx, urbp, 152);
SGX_ASSERT_LAYOUT(sgx_gprsgx, exitinfo, 160);
SGX_ASSERT_LAYOUT(sgx_gprsgx, fsbase, 168);
SGX_ASSERT_LAYOUT(sgx_gprsgx, gsbase, 176);
SGX_ASSERT_SIZE(sgx_exinfo, SGX_SSA_MISC_EXINFO_SIZE);

SGX_ASSERT_SIZE(sgx_meas_ecreate, 64);
SGX_ASSERT_LAYOUT(sgx_meas_ecreate, ssa_frame_size, 8);
SGX_ASSERT_LAYOUT(sgx_meas_ecreate, size, 12);
SGX_ASSERT_SIZE(sgx_meas_eadd, 64);
SGX_ASSERT_LAYOUT(sgx_meas_eadd, offset, 8);
SGX_ASSERT_LAYOUT(sgx_meas_eadd, secinfo_flags, 16);
SGX_ASSERT_SIZE(sgx_meas_eextend, 64);
SGX_ASSERT_LAYOUT(sgx_meas_eextend, offset, 8);

#endif /* SGXEMU_ARCH_H */
