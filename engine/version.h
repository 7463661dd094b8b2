/* The version string of the engine. */
#ifndef NSC_ENGINE_VERSION_H
#define NSC_ENGINE_VERSION_H

/** The package version ("0.1.0"); static storage. */
const char *nsc_engine_version(void);

#endif
