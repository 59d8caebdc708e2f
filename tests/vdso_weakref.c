/*
 * vdso_weakref.c: libvdso_weakref.so for test_vdso, the way Fortanix's
 * runner finds the enter function: a weak reference that the dynamic
 * linker binds at load time, versioned LINUX_2.6 of linux-vdso.so.1 by
 * linking against a stand-in of that soname (vdso_standin.S).
 */
extern int __vdso_sgx_enter_enclave(void) __attribute__((weak));

void *vdso_weakref_enter(void);

void *vdso_weakref_enter(void)
{
	return (void *)__vdso_sgx_enter_enclave;
}
