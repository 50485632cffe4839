/*
 * launcher.h: what the service workers need from the launcher's shared memory.
 */
#ifndef BIGBROTR_LAUNCHER_H
#define BIGBROTR_LAUNCHER_H

#define BIGBROTR_MAX_SERVICES 16

bool		launcher_claim_service(int service_index);
void		launcher_release_service(int service_index);

#endif							/* BIGBROTR_LAUNCHER_H */
