#include <limits.h>
#include <stdio.h>
#include <string.h>

/* gcc's limits.h must chain to musl's (a toolchain whose gcc was configured before the
 * libc headers existed gets a limits.h without PATH_MAX/NAME_MAX from musl). */
#if !defined(NAME_MAX) || PATH_MAX != 4096
#error "limits.h does not come from musl"
#endif

int main(int argc, char **argv) {
    /* Something libc must really do: format, and compare. */
    char buf[64];
    (void)argv;
    snprintf(buf, sizeof buf, "hello from C, %d args", argc);
    if (strcmp(buf, "hello from C, 1 args") != 0)
        return 1;
    puts(buf);
    return 0;
}
