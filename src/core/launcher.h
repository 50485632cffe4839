/*
 * launcher.h: the launcher background worker (launcher.c): its registration and shared memory
 * (from _PG_init), the wake-up that bigbrotr_start/stop send it, and the per-service claim a
 * service worker takes so that no service runs twice.
 */
#ifndef BIGBROTR_LAUNCHER_H
#define BIGBROTR_LAUNCHER_H

#define BIGBROTR_MAX_SERVICES 16

/* Called from _PG_init and the shared-memory hooks. */
void		launcher_shmem_request(void);
void		launcher_shmem_startup(void);
void		launcher_register(void);

/* Wakes the launcher so it re-reads bigbrotr.service_control (bigbrotr_start/stop, at commit). */
void		launcher_wakeup(void);

PGDLLEXPORT void bigbrotr_launcher_main(Datum main_arg);

/* A service worker claims its service at start (false: another worker runs it) and releases it. */
bool		launcher_claim_service(int service_index);
void		launcher_release_service(int service_index);

/* True once the launcher asked this worker's service to stop without a handle (see launcher.c). */
bool		launcher_stop_requested(int service_index);

#endif							/* BIGBROTR_LAUNCHER_H */
