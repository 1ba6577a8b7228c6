#!/usr/bin/env bash
# Single-node SLURM test cluster on localhost (Debian bookworm: slurm-wlm 22.05, munge 0.5;
# run as root, no systemd needed). tests/test_slurm.py drives it.
#
#   tests/slurm/cluster.sh install   # apt-get update + install --no-install-recommends
#                                    # slurm-wlm munge (no-op when installed; every plugin
#                                    # the config uses is in slurm-wlm-basic-plugins)
#   tests/slurm/cluster.sh start     # write /etc/slurm/slurm.conf, start munged,
#                                    # slurmctld, slurmd; exit 0 once sinfo shows the
#                                    # node idle (a few seconds)
#   tests/slurm/cluster.sh status    # exit 0 iff the daemons run and the node is
#                                    # idle/mix/alloc, else 3
#   tests/slurm/cluster.sh stop      # scancel leftovers, SIGTERM (SIGKILL after 10 s)
#                                    # exactly the daemons we started, wait for them
#   tests/slurm/cluster.sh logs [N]  # tail of all daemon logs
#
# How it behaves:
# * The config must live at /etc/slurm/slurm.conf: jobs submitted by the Snakemake SLURM
#   executor do not keep SLURM_CONF. Ours is marked with $MARKER; a foreign file
#   there is moved to slurm.conf.bak.<date>.
# * The daemons run in the foreground (munged -F as user munge via setpriv, slurmctld
#   -D -c -i, slurmd -D), detached with setsid, stdio to $STATE_DIR/log/<daemon>.out (it
#   holds errors printed before a daemon opens its log), so a caller that captures output
#   returns while they keep running. Their PIDs are recorded in $STATE_DIR/pids.
# * start is idempotent ("cluster already running"), refuses to run beside a slurmctld or
#   slurmd it did not start, and reuses an already-answering munged without recording (or
#   later killing) it. On failure it prints ERROR, the tail of every daemon's output
#   (e.g. "fatal: slurm_init_msg_engine_port error Address already in use" when port 6817
#   is taken), stops what it started in that call and exits 1.
# * stop only kills PIDs from its pid files, after checking /proc/PID/comm is the expected
#   daemon (a reused PID is left alone).
# * One cluster per machine: the ports (6817/6818) and /etc/slurm/slurm.conf are fixed, so
#   two test sessions on one machine share it (the test stops only a cluster it started).
# * The config: the node's hardware from `slurmd -C`, no accounting database
#   (AccountingStorageType=accounting_storage/none, hence the executor's squeue status
#   command), proctrack/linuxproc, task/none, select/cons_tres with CR_Core_Memory (memory is
#   consumable: mem_mb x concurrent jobs must fit the node), ReturnToService=2, one
#   partition, Default=YES. No cgroup.conf is needed.
# * Harmless: the daemons log errors about mpi/pmix ("can not load PMIx library"); after a
#   failed start a "[slurmscriptd] <defunct>" zombie can remain where PID 1 does not reap
#   orphans (containers).
#
# Environment knobs:
#   SLURM_TEST_STATE_DIR   state/log/spool dir     (default /tmp/intercluster-slurm)
#   SLURM_TEST_TIMEOUT     seconds to wait for up  (default 60)
#   SLURM_TEST_PARTITION   partition name          (default debug)
#   SLURM_TEST_MIN_JOB_AGE slurmctld MinJobAge (s) (default 300; the executor's
#                          squeue status command needs >= 3x its initial
#                          status-check interval, otherwise it falls back to sacct)
set -euo pipefail

STATE_DIR=${SLURM_TEST_STATE_DIR:-/tmp/intercluster-slurm}
TIMEOUT=${SLURM_TEST_TIMEOUT:-60}
PARTITION=${SLURM_TEST_PARTITION:-debug}
MIN_JOB_AGE=${SLURM_TEST_MIN_JOB_AGE:-300}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARKER="# managed by intercluster tests/slurm/cluster.sh"
MUNGE_KEY=/etc/munge/munge.key
MUNGE_SOCKET=/run/munge/munge.socket.2
PID_DIR=$STATE_DIR/pids
LOG_DIR=$STATE_DIR/log
DAEMONS=(munged slurmctld slurmd)

log() { printf '[slurm-test] %s\n' "$*"; }
err() { printf '[slurm-test] ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (daemons run as root, config goes to $CONF)"; }

# ---------------------------------------------------------------- install ---
PKGS=(slurm-wlm munge)

cmd_install() {
    need_root
    local missing=()
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "already installed: ${PKGS[*]} ($(slurmctld -V 2>/dev/null || echo '?'))"
        return 0
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Refresh package lists (needed on fresh machines; cheap otherwise).
    apt-get update -q || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "${PKGS[@]}" || die "apt-get install ${PKGS[*]} failed"
    for c in munged slurmctld slurmd sinfo squeue sbatch; do
        command -v "$c" >/dev/null || die "'$c' not found after install"
    done
    log "installed $(slurmctld -V)"
}

# ---------------------------------------------------------------- helpers ---
pid_of() { if [[ -s $PID_DIR/$1.pid ]]; then cat "$PID_DIR/$1.pid"; fi; }

# alive PID whose executable is the expected daemon (guards against PID reuse)
is_ours_alive() {
    local name=$1 pid
    pid=$(pid_of "$name")
    [[ -n $pid ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(cat /proc/"$pid"/comm 2>/dev/null) == "$name" ]]
}

node_name() { hostname -s; }

node_state() { sinfo -h -N -n "$(node_name)" -o '%T' 2>/dev/null | head -n1 || true; }

# *.out = the daemon's stdout/stderr in foreground mode: a superset of its
# *.log file, and the only place for errors printed before the log is open.
log_tail() {
    local f
    for f in "$LOG_DIR"/*.out; do
        [[ -s $f ]] || continue
        printf -- '----- tail %s -----\n' "$f" >&2
        tail -n "${1:-25}" "$f" >&2
    done
}

STARTED_NOW=()   # daemons started by this invocation (stopped again on failure)

start_fail() {
    err "$*"
    log_tail 30
    local d i
    for ((i = ${#STARTED_NOW[@]} - 1; i >= 0; i--)); do
        d=${STARTED_NOW[i]}
        err "stopping $d started by this call"
        stop_one "$d" >&2 || true
    done
    err "cluster start FAILED (logs: $LOG_DIR)"
    exit 1
}

# start a foreground daemon detached (setsid, no tty, stdio to log file)
# usage: spawn NAME CMD...   -> records PID in $PID_DIR/NAME.pid
spawn() {
    local name=$1; shift
    # In a non-interactive shell the background child is not a process-group
    # leader, so setsid calls setsid(2) and execs in place: $! is the daemon.
    setsid "$@" </dev/null >"$LOG_DIR/$name.out" 2>&1 &
    local pid=$!
    echo "$pid" >"$PID_DIR/$name.pid"
    STARTED_NOW+=("$name")
    sleep 0.5
    if ! kill -0 "$pid" 2>/dev/null; then
        start_fail "$name (pid $pid) exited immediately"
    fi
    log "started $name (pid $pid)"
}

wait_for() {  # wait_for SECONDS CMD...  (true once CMD succeeds)
    local secs=$1; shift
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

munge_ok() { { munge -n -S "$MUNGE_SOCKET" </dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null; } 2>/dev/null; }

write_conf() {
    local node cpus_line
    node=$(node_name)
    # Hardware line as slurmd detects it, e.g.
    # "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
    cpus_line=$(slurmd -C | head -n1 | sed -e 's/^NodeName=[^ ]* *//') ||
        die "'slurmd -C' failed"
    [[ $cpus_line == *CPUs=* ]] || die "unexpected 'slurmd -C' output: $cpus_line"

    if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        local bak
        bak="$CONF.bak.$(date +%Y%m%d%H%M%S)"
        log "existing $CONF is not ours; moving it to $bak"
        mv "$CONF" "$bak"
    fi
    mkdir -p "$CONF_DIR"
    cat >"$CONF" <<EOF
$MARKER
# Single-node test cluster; regenerated by '$0 start'.
ClusterName=intercluster
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
# small scheduling latency for tests
SchedulerParameters=sched_interval=2
StateSaveLocation=$STATE_DIR/spool/slurmctld
SlurmdSpoolDir=$STATE_DIR/spool/slurmd
SlurmctldPidFile=$STATE_DIR/run/slurmctld.pid
SlurmdPidFile=$STATE_DIR/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node $cpus_line State=UNKNOWN
PartitionName=$PARTITION Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    log "wrote $CONF (node $node: $cpus_line)"
}

# ------------------------------------------------------------------ start ---
cmd_start() {
    need_root
    for c in munged munge unmunge slurmctld slurmd sinfo squeue sbatch setsid setpriv; do
        command -v "$c" >/dev/null || die "'$c' not found; run '$0 install' first"
    done

    local all_up=1 d
    for d in "${DAEMONS[@]}"; do
        [[ $d == munged && ! -s $PID_DIR/munged.pid ]] && munge_ok && continue
        is_ours_alive "$d" || all_up=0
    done
    if ((all_up)) && [[ $(node_state) == idle* || $(node_state) == mix* || $(node_state) == alloc* ]]; then
        log "cluster already running (node $(node_name): $(node_state))"
        return 0
    fi
    for d in slurmctld slurmd; do
        if ! is_ours_alive "$d" && pgrep -x "$d" >/dev/null; then
            die "a '$d' not started by this script is running (pid $(pgrep -x "$d" | tr '\n' ' ')); stop it first"
        fi
    done

    mkdir -p "$PID_DIR" "$LOG_DIR" "$STATE_DIR/run" "$STATE_DIR/spool/slurmctld" "$STATE_DIR/spool/slurmd"
    write_conf
    # fresh logs for daemons (re)started now, so tails/greps see only this run
    for d in slurmctld slurmd; do
        if ! is_ours_alive "$d"; then
            : >"$LOG_DIR/$d.log"
            : >"$LOG_DIR/$d.out"
        fi
    done

    # --- munge ---
    if munge_ok; then
        log "munged already answering on $MUNGE_SOCKET$(is_ours_alive munged && echo " (ours, pid $(pid_of munged))" || echo " (not started by us; reusing)")"
    else
        rm -f "$PID_DIR/munged.pid"
        if [[ ! -s $MUNGE_KEY ]]; then
            log "creating munge key $MUNGE_KEY"
            install -d -o munge -g munge -m 0700 /etc/munge
            mungekey --create --keyfile="$MUNGE_KEY" 2>/dev/null ||
                dd if=/dev/urandom bs=1 count=1024 of="$MUNGE_KEY" status=none
        fi
        chown munge:munge "$MUNGE_KEY"
        chmod 0400 "$MUNGE_KEY"
        install -d -o munge -g munge -m 0755 /run/munge
        install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
        rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
        spawn munged setpriv --reuid=munge --regid=munge --init-groups \
            munged --foreground --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" \
            --log-file="$LOG_DIR/munged.log"
        wait_for 15 munge_ok || start_fail "munged does not answer on $MUNGE_SOCKET"
        log "munge OK"
    fi

    # --- slurmctld ---
    if is_ours_alive slurmctld; then
        log "slurmctld already running (pid $(pid_of slurmctld))"
    else
        # -c: cold start (no jobs/nodes state from earlier runs), -i: ignore bad state
        spawn slurmctld slurmctld -D -c -i -f "$CONF"
        wait_for "$TIMEOUT" scontrol ping ||
            start_fail "slurmctld not answering 'scontrol ping' after ${TIMEOUT}s"
        log "slurmctld answers"
    fi

    # --- slurmd ---
    if is_ours_alive slurmd; then
        log "slurmd already running (pid $(pid_of slurmd))"
    else
        spawn slurmd slurmd -D -f "$CONF"
    fi

    # --- wait for node idle ---
    local deadline=$((SECONDS + TIMEOUT)) st=""
    while :; do
        st=$(node_state)
        case $st in
        idle*|mix*|alloc*) break ;;
        down*|drain*|fail*|inval*)
            # ReturnToService=2 should avoid this; try to resume once
            scontrol update NodeName="$(node_name)" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        for d in slurmctld slurmd; do
            is_ours_alive "$d" || start_fail "$d died during startup"
        done
        ((SECONDS < deadline)) || start_fail "node $(node_name) not idle after ${TIMEOUT}s (state: '${st:-none}')"
        sleep 1
    done
    log "cluster up: node $(node_name) is $st in partition '$PARTITION'"
    sinfo
}

# wait_gone PID TRIES: poll every 0.25 s until PID has exited, at most TRIES times.
wait_gone() {
    local i
    for ((i = 0; i < $2; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.25
    done
}

# ------------------------------------------------------------------- stop ---
stop_one() {
    local name=$1 pid i
    pid=$(pid_of "$name")
    if [[ -z $pid ]]; then
        return 0
    fi
    if ! is_ours_alive "$name"; then
        log "$name (pid $pid) not running"
        rm -f "$PID_DIR/$name.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 40
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 20
    fi
    if kill -0 "$pid" 2>/dev/null; then
        err "$name (pid $pid) is still alive"
        return 1
    fi
    rm -f "$PID_DIR/$name.pid"
    log "stopped $name (pid $pid)"
}

cmd_stop() {
    need_root
    local rc=0 ids i
    if is_ours_alive slurmctld; then
        ids=$(squeue -h -o '%i' 2>/dev/null | tr '\n' ' ' || true)
        if [[ -n ${ids// /} ]]; then
            log "cancelling leftover jobs: $ids"
            # shellcheck disable=SC2086
            scancel $ids 2>/dev/null || true
            for ((i = 0; i < 20; i++)); do
                [[ -z $(squeue -h -t running,completing -o '%i' 2>/dev/null) ]] && break
                sleep 0.5
            done
        fi
    fi
    stop_one slurmd || rc=1
    stop_one slurmctld || rc=1
    stop_one munged || rc=1
    if ((rc)); then
        die "some daemons did not stop"
    fi
    log "stopped (state and logs kept in $STATE_DIR)"
}

# ----------------------------------------------------------------- status ---
cmd_status() {
    local rc=0 d
    for d in "${DAEMONS[@]}"; do
        if is_ours_alive "$d"; then
            log "$d: running (pid $(pid_of "$d"))"
        elif [[ $d == munged ]] && munge_ok; then
            log "munged: not ours, but munge answers"
        else
            log "$d: not running"
            rc=3
        fi
    done
    if ((rc == 0)); then
        sinfo || rc=3
        squeue || true
        [[ $(node_state) == idle* || $(node_state) == mix* || $(node_state) == alloc* ]] || rc=3
    fi
    return $rc
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
restart) cmd_stop; cmd_start ;;
status) cmd_status ;;
logs) log_tail "${2:-50}" 2>&1 ;;
*)
    echo "usage: $0 {install|start|stop|restart|status|logs [N]}" >&2
    exit 2
    ;;
esac
