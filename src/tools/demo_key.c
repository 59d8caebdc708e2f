/*
 * demo_key.c: the demo signing key, embedded so that `sgxemu demo` needs no
 * file.  RSA-3072 with public exponent 3, as SIGSTRUCT requires.
 *
 * This key is public: it is in the source tree.  It identifies the
 * project's sample enclave in demonstrations and tests and must never sign
 * anything that is meant to be trusted.  `sgxemu demo --export-key FILE`
 * writes it out for use with `sgxemu sign --key`.
 */
#include "tools/tools.h"

const char demo_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIG/AIBADANBgkqhkiG9w0BAQEFAASCBuYwggbiAgEAAoIBgQCrLvVDahR1mUSE\n"
	"82QACd75z9UAuyBc44ZaEa0usCuWRUvSA1MrIlx3zPD+SsOFl+vqxw+edWwYWK8z\n"
	"AuEr7/CEgricNfZFm1CrOit+Mb5b4WF/8Hs1l+hD+Ngyj4+bgUNv5VhuPTPGt54N\n"
	"xdi4ewnabrj7gQoBjcLbfLwZ68cj38VlnNpP3ir4nxsiDjakGHAjTRUeE5BAm1Ql\n"
	"W+cawCaGPyOz/qy+GMGlxaYRh4ItPm2Jwo4hOHX0Mq4u+q0JJakMqWxYccmW6M9+\n"
	"AfmUVkQat+RfPNdvnpJ0FYJpcnsaMT65a8lCDhfdoexB2NoSRXrxnzR3Z6IkHAGI\n"
	"2P9AoK9tPhqVhGwNrDJiu1mKgFpTWoy/2nm01K6YjdXdVXWJ0KWVBl/65uPrUNcX\n"
	"tklfMk+Yqd4cXJKObDpp7XStOxB1IHL7T++rA/UCeQHGuB3ECKrfodV43is9QjVZ\n"
	"g7jBVexUtF6LkiuK7W/4OSuxP1fIzhlA5XjF0WvlChPjp9CCe9MCAQMCggGAch9O\n"
	"LPFi+RDYWKJCqrE/UTU4qydq6Jeu5rZzdHVyZC4yjAI3chboT931/tyCWQ/ynIS1\n"
	"FE5IEDsfd1dAx/VLAwHQaCP5g7zgcibHqXZ+5+uWVUr8zmVFgqXldwpfvQDXn+46\n"
	"9CjNLyUUCS6QevyxPEnQp6tcAQksklMoEUfaF+qDmRM8NT7HUGoSFrQkbWWgF4i4\n"
	"vre1gGeNbj1EvIAZrtTCd/8d1BCBGS5utlpWyNRJBoG0FiWj+CHJdKceBhkaRe+3\n"
	"ClKR8J/Sls9xHjTLJb4wNx2rMP4gKrK3QNjAYkI74/xqfsUFgQzXCPwbXMN0Z8SE\n"
	"N9Os+XYYgJAoKsYEb98QqBq+vPksv4YYx2I0IW04frMVkPEnTki+oc70ZJ2/UZQE\n"
	"tRWpBpjZTKYX37teapFIigY1kjJOGr66HejAQ094YioWRjOxWzGBy4+nCrevF3qC\n"
	"2roGXLAsxKz1GAhzNxASiUVrBXX0hKpFSxnng91VkTUyKSWZFCOlyL91gcXrAoHB\n"
	"AODqFiFw7NoBGOZGhZbUCPo5S1iKtJGoz2bBI6KaTTic2iJ6YkNYdsIq8VFjLsLQ\n"
	"zNBcGxovGtAEyzeXgzD2rXUG5zE3ptUM8Y/lFNu3I/uFPUO3wM764Opfdzrl6x+H\n"
	"4sppr+6S1YDK08kFxZY9mpTGsDiMlB7+AqiZ/cw0FChAeC4+qW+Tsy0CtAIRKcOR\n"
	"q+uRqOKiIEo13R+78vnxWWtAKVV3XZeW94TkyD69BMB70B5Mn6gDML4ohYFxNZTK\n"
	"gwKBwQDC18OnhQHT9/q1hEpQMwpn4VC0BaIUeJLNSEvlkw1OMQrA9sdAjhjZ47hi\n"
	"+4JET3+FnFMJewPd5hGQaT/PgPtQaJpoJKcdKX2zjR+DteglsXq+FhiMcBK4wUCv\n"
	"uRvTXCPQPqj8s5DgoL1bt1/5W6dkCUEUxq4UIsKZNV+0Kdvn6MY50iTSIrfMrAsT\n"
	"T3lwY3hQ2GhOJQFoBBUSxFYjV+YW3BloMq1rJYmsVPuB23fChkjIyQ3gFdWIrBW1\n"
	"F2qrCHECgcEAlfFkFktIkVYQmYRZDzgF/CYyOwcjC8XfmdYXwbwzexM8FvxBgjr5\n"
	"1sdLi5d0geCIiugSEXS8iq3cz7pXdfnI+K9Ey3pvOLNLtUNjPSTCp64o18/V31Hr\n"
	"RupPfJlHalqXMZvKnwyOVdyNMK6DuX5nDdnK0F24FKlXGxFT3XgNcCr6yX8bn7fM\n"
	"yKx4AWDGgmEdR7ZwlxbAMXk+FSf3UUuQ8irGOPo+ZQ9Pre3a1H4DKv01aYhqcAIg\n"
	"fsWuVkt5DdxXAoHBAIHlLRpYq+KlUc5YMYrMsZqWNc1ZFrhQYd4wMpkMs4l2BytP\n"
	"L4BeuzvtJZdSVtg0/65oN1unV+lEC7Wbf9+rUjWbEZrDGhNw/nezalfOmsPLpylk\n"
	"EF2gDHsrgHUmEozoF+Apxf3NC0BrKOfPlVDnxO1bgLiEdA1sgbt46ngb5+/whCaM\n"
	"GIwXJTMdXLeKUPWXpYs68DQYq5qtY2HYOWzlRA89ZkV3HkduW8g4p6vnpSxZhdsw\n"
	"s+q5OQXIDni6RxywSwKBwEsQD6Kza+uwGfz4JpR6Cgf5NaA3EhjkFwz+enAN5cF7\n"
	"XvJT+czPK4ttQRQTEBMC3htjl5gs3U9Sg40O8MgAjSWHkqKKbtqSxiQyf+VlGZqx\n"
	"1kqr8hZYxK/rO0xnX1tAZuTlBmeyaL8Han8Ji6Cow2BqKjRmHR30NaxGau6rN5CN\n"
	"y0QjGatxHcfooHuM9ghpZn2oa/4dP681uAhKEDr00uaX7g8MfwWPB9B5BJv2AJTe\n"
	"ukfakQN9QFYNjVH9kIz+bw==\n"
	"-----END PRIVATE KEY-----\n"
	;
