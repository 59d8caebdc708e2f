	.text
	.globl _start
_start:
	ud2
	.section .note.GNU-stack,"",@progbits
