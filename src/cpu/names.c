/*
 * names.c: printable names of the architecture's error codes and of the
 * faults the leaves report in cpu.h's encoding, for messages and tests.
 */
#include <stdio.h>

#include "sgxemu/cpu.h"

static const char *const sgx_code_names[] = {
	[SGX_SUCCESS] = "SGX_SUCCESS",
	[SGX_INVALID_SIG_STRUCT] = "SGX_INVALID_SIG_STRUCT",
	[SGX_INVALID_ATTRIBUTE] = "SGX_INVALID_ATTRIBUTE",
	[SGX_BLKSTATE] = "SGX_BLKSTATE",
	[SGX_INVALID_MEASUREMENT] = "SGX_INVALID_MEASUREMENT",
	[SGX_NOTBLOCKABLE] = "SGX_NOTBLOCKABLE",
	[SGX_PG_INVLD] = "SGX_PG_INVLD",
	[SGX_EPC_PAGE_CONFLICT] = "SGX_EPC_PAGE_CONFLICT",
	[SGX_INVALID_SIGNATURE] = "SGX_INVALID_SIGNATURE",
	[SGX_MAC_COMPARE_FAIL] = "SGX_MAC_COMPARE_FAIL",
	[SGX_PAGE_NOT_BLOCKED] = "SGX_PAGE_NOT_BLOCKED",
	[SGX_NOT_TRACKED] = "SGX_NOT_TRACKED",
	[SGX_VA_SLOT_OCCUPIED] = "SGX_VA_SLOT_OCCUPIED",
	[SGX_CHILD_PRESENT] = "SGX_CHILD_PRESENT",
	[SGX_ENCLAVE_ACT] = "SGX_ENCLAVE_ACT",
	[SGX_ENTRYEPOCH_LOCKED] = "SGX_ENTRYEPOCH_LOCKED",
	[SGX_INVALID_EINITTOKEN] = "SGX_INVALID_EINITTOKEN",
	[SGX_PREV_TRK_INCMPL] = "SGX_PREV_TRK_INCMPL",
	[SGX_PG_IS_SECS] = "SGX_PG_IS_SECS",
	[SGX_PAGE_ATTRIBUTES_MISMATCH] = "SGX_PAGE_ATTRIBUTES_MISMATCH",
	[SGX_PAGE_NOT_MODIFIABLE] = "SGX_PAGE_NOT_MODIFIABLE",
	[SGX_PAGE_NOT_DEBUGGABLE] = "SGX_PAGE_NOT_DEBUGGABLE",
	[SGX_INSUFFICIENT_ENTROPY] = "SGX_INSUFFICIENT_ENTROPY",
	[SGX_INVALID_CPUSVN] = "SGX_INVALID_CPUSVN",
	[SGX_INVALID_ISVSVN] = "SGX_INVALID_ISVSVN",
	[SGX_UNMASKED_EVENT] = "SGX_UNMASKED_EVENT",
	[SGX_INVALID_KEYNAME] = "SGX_INVALID_KEYNAME",
};

static const char *trap_name(int trapnr)
{
	switch (trapnr) {
	case X86_TRAP_UD:
		return "#UD";
	case X86_TRAP_GP:
		return "#GP";
	case X86_TRAP_PF:
		return "#PF";
	case X86_TRAP_MC:
		return "#MC";
	default:
		return "fault";
	}
}

const char *sgx_error_name(int ret)
{
	if (encls_faulted(ret))
		return trap_name(encls_trapnr(ret));
	if (ret >= 0 && (unsigned int)ret < sizeof(sgx_code_names) / sizeof(sgx_code_names[0]) &&
	    sgx_code_names[ret])
		return sgx_code_names[ret];
	return "SGX_UNKNOWN_ERROR";
}
