/* Placeholder until the sample enclave lands. */
void enclave_main(void) {}
