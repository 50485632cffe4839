# PGXS build of the bigbrotr extension: every C file under src/ is compiled into one shared
# library; the install script is assembled from the ordered pieces in sql/install/.
EXTENSION = bigbrotr
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" bigbrotr.control)

MODULE_big = bigbrotr
SRCS = $(sort $(wildcard src/*/*.c src/services/*/*.c))
OBJS = $(SRCS:.c=.o)

INSTALL_SQL = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA_built = $(INSTALL_SQL)
DATA = $(filter-out $(INSTALL_SQL),$(wildcard sql/$(EXTENSION)--*.sql))
SEEDS = seeds/seed_relays.txt

# pg_regress tests: every sql/*.sql that is not an install or upgrade script.
REGRESS = $(filter-out $(EXTENSION)--%,$(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=.

PG_CPPFLAGS = -std=gnu11 -Isrc -DBIGBROTR_VERSION='"$(EXTVERSION)"' $(shell pkg-config --cflags libwebsockets libcurl openssl 2>/dev/null)
SHLIB_LINK = -lwebsockets -lsecp256k1 -lcurl -lssl -lcrypto -lidn2 -lanl

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS adds its own warning flags; ours come after them so -Werror applies to everything we build.
override CFLAGS += -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

# Header dependencies: every object is rebuilt when a header it includes changes (a struct that grew
# in a header must never meet an object compiled against its old size).
override CFLAGS += -MMD -MP
-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d)
# The JIT's bitcode of a file follows its object, so it sees the same headers.
$(OBJS:.o=.bc): %.bc: %.o

$(INSTALL_SQL): $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

install: install-seeds
install-seeds:
	$(MKDIR_P) '$(DESTDIR)$(datadir)/extension/bigbrotr'
	$(INSTALL_DATA) $(SEEDS) '$(DESTDIR)$(datadir)/extension/bigbrotr/'
	$(INSTALL_DATA) src/services/api/openapi.json '$(DESTDIR)$(datadir)/extension/bigbrotr/'

.PHONY: install-seeds

# The library's version (BIGBROTR_VERSION) comes from bigbrotr.control: a version bump rebuilds every
# object, so a tree built before the bump never links a library that calls itself the old version
# (its workers would refuse the upgraded extension).
$(OBJS): bigbrotr.control
