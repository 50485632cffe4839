/*
 * finder.h: the two halves of the finder service: API sources (finder.c) and the archive scan
 * (finder_archive.c).
 */
#ifndef BIGBROTR_FINDER_H
#define BIGBROTR_FINDER_H

#include "core/bigbrotr.h"

void		finder_archive_define_gucs(void);
void		finder_scan_archive(ServiceCycle *cycle);

#endif							/* BIGBROTR_FINDER_H */
