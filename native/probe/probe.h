/* didactic-probe: the parts shared between the command dispatcher and the report. */
#ifndef DIDACTIC_PROBE_H
#define DIDACTIC_PROBE_H

#include <stdio.h>

/* Writes the JSON report of what this process sees. Returns 0, or negative with errno set. */
int probe_report(FILE *out);

#endif
