// GMP for Swift. gmp.h declares its functions under their linker names
// (mpz_add is a macro for __gmpz_add), and Swift imports those declarations,
// so Swift code calls __gmpz_* directly; mpz_t is used as __mpz_struct.
#ifndef HE_TOOL_CGMP_SHIM_H
#define HE_TOOL_CGMP_SHIM_H
#include <gmp.h>
#endif
