#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    /* Something libc must really do: format, and compare. */
    char buf[64];
    snprintf(buf, sizeof buf, "hello from C, %d args", argc);
    if (strcmp(buf, "hello from C, 1 args") != 0)
        return 1;
    puts(buf);
    return 0;
}
