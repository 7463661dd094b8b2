/* The version string of the engine, shared by the daemon and its tests. */
#include "config.h"

#include "version.h"

const char *
nsc_engine_version(void)
{
    return PACKAGE_VERSION;
}
