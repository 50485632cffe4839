/*
 * services.h: the entry points of every service, referenced by the registry (registry.c).
 */
#ifndef BIGBROTR_SERVICES_H
#define BIGBROTR_SERVICES_H

#include "core/bigbrotr.h"

void		initializer_define_gucs(void);
void		initializer_run_cycle(ServiceCycle *cycle);

extern int	finder_interval;
void		finder_define_gucs(void);
void		finder_run_cycle(ServiceCycle *cycle);

extern int	monitor_interval;
void		monitor_define_gucs(void);
void		monitor_run_cycle(ServiceCycle *cycle);
extern int	synchronizer_interval;
void		synchronizer_define_gucs(void);
void		synchronizer_run_cycle(ServiceCycle *cycle);

extern int	api_cycle_pause;		/* 0: an api cycle is itself bigbrotr.api_interval long */
void		api_define_gucs(void);
void		api_run_cycle(ServiceCycle *cycle);
void		api_metrics_shmem_request(void);
void		api_metrics_shmem_startup(void);

#endif							/* BIGBROTR_SERVICES_H */
