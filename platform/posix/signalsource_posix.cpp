// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "signalsource_posix.h"

#include "config-platform.h"

#include <berth/lifetime.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QEvent>
#include <QtCore/QLoggingCategory>
#include <QtCore/QPointer>
#include <QtCore/QSocketNotifier>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

namespace berth::platform {

namespace {

Q_LOGGING_CATEGORY(lcPosix, "berth.platform.posix")

enum class Request { Stop, Reload, Dump };

struct SignalRoute
{
    int signal;
    const char *name;
    Request request;
};

// SIGQUIT is deliberately absent: its default action (core dump) is what operators reach for
// on a hung process (FinalKillSignal=SIGQUIT). SIGUSR1 is the diagnostic dump instead.
constexpr SignalRoute kRoutes[] = {
    {SIGINT, "SIGINT", Request::Stop},
    {SIGTERM, "SIGTERM", Request::Stop},
    {SIGHUP, "SIGHUP", Request::Reload},
    {SIGUSR1, "SIGUSR1", Request::Dump},
};

// The handler cannot reach an object, so what it touches lives here. Both must be lock-free:
// a lock-based atomic could deadlock if the signal interrupted its own critical section.
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");
std::atomic<int> s_writeFd{-1};   // read by the host thread's QSocketNotifier
std::atomic<int> s_wakeFd{-1};    // read by the delivery thread
std::atomic<int> s_stopSignals{0};
std::atomic<bool> s_instanceExists{false};

sigset_t routedSignals()
{
    sigset_t set;
    sigemptyset(&set);
    for (const SignalRoute &route : kRoutes)
        sigaddset(&set, route.signal);
    return set;
}

const SignalRoute *routeFor(int signal)
{
    for (const SignalRoute &route : kRoutes) {
        if (route.signal == signal)
            return &route;
    }
    return nullptr;
}

// Async-signal-safe: only atomics and write(). The counter is bumped before the byte is written,
// so whoever reads the byte can rely on the counter already including it.
void handleSignal(int signal)
{
    const int savedErrno = errno;
    if (signal == SIGINT || signal == SIGTERM)
        s_stopSignals.fetch_add(1);
    const unsigned char byte = static_cast<unsigned char>(signal);
    // Non-blocking: with a pipe full the byte is dropped, which only merges requests that nobody
    // has read yet; the stop counter above stays exact.
    for (const int fd : {s_writeFd.load(), s_wakeFd.load()}) {
        if (fd >= 0)
            [[maybe_unused]] const ssize_t written = ::write(fd, &byte, 1);
    }
    errno = savedErrno;
}

void setDisposition(int signal, void (*handler)(int))
{
    struct sigaction action = {}; // zeroed: no stray SA_* flags
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = handler == SIG_DFL ? 0 : SA_RESTART;
    ::sigaction(signal, &action, nullptr);
}

// Plain socketpair() plus fcntl(): SOCK_NONBLOCK / SOCK_CLOEXEC do not exist on macOS.
bool makeSocketPair(int fds[2])
{
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        return false;
    for (int i = 0; i < 2; ++i) {
        if (::fcntl(fds[i], F_SETFL, ::fcntl(fds[i], F_GETFL) | O_NONBLOCK) != 0
            || ::fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            ::close(fds[0]);
            ::close(fds[1]);
            fds[0] = fds[1] = -1;
            return false;
        }
    }
    return true;
}

#if BERTH_HAVE_PPOLL
// The signals stay blocked in the delivery thread too and are unblocked only inside ppoll(), so
// the handler can run nowhere but in that wait.
sigset_t prepareDeliveryThread()
{
    sigset_t waitMask;
    pthread_sigmask(SIG_SETMASK, nullptr, &waitMask);
    for (const SignalRoute &route : kRoutes)
        sigdelset(&waitMask, route.signal);
    return waitMask;
}

int waitForWake(pollfd *fds, nfds_t count, const sigset_t &waitMask)
{
    return ::ppoll(fds, count, nullptr, &waitMask);
}
#else
// No ppoll() (macOS): the delivery thread keeps the signals unblocked. The handler also writes
// to the wake pipe, so a signal taken outside poll() still wakes it.
sigset_t prepareDeliveryThread()
{
    const sigset_t routed = routedSignals();
    pthread_sigmask(SIG_UNBLOCK, &routed, nullptr);
    return routed;
}

int waitForWake(pollfd *fds, nfds_t count, const sigset_t &)
{
    return ::poll(fds, count, -1);
}
#endif

void closeFd(int &fd)
{
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

} // namespace

void PosixSignalSource::earlyInit()
{
    const sigset_t routed = routedSignals();
    pthread_sigmask(SIG_BLOCK, &routed, nullptr);
    // Children made by a plain fork() inherit the block; atfork handlers cannot be removed, so
    // register exactly once. (QProcess does not run them: see childProcessModifier().)
    static const bool atforkRegistered =
            pthread_atfork(nullptr, nullptr, &PosixSignalSource::resetSignalsInChild) == 0;
    Q_UNUSED(atforkRegistered);
}

void PosixSignalSource::resetSignalsInChild()
{
    // QProcess runs this in a clone(CLONE_VM) child that shares our memory: system calls only,
    // no writes to any variable. Our handler would write into the parent's pipe and look like a
    // signal to the parent, so it goes before the signals are unblocked. Someone else's
    // disposition (e.g. SIG_IGN) is kept.
    for (const SignalRoute &route : kRoutes) {
        struct sigaction current = {};
        if (::sigaction(route.signal, nullptr, &current) == 0 && current.sa_handler == handleSignal)
            setDisposition(route.signal, SIG_DFL);
    }
    const sigset_t routed = routedSignals();
    pthread_sigmask(SIG_UNBLOCK, &routed, nullptr);
}

PosixSignalSource::PosixSignalSource(Lifetime &lifetime, QObject *parent)
    : QObject(parent), m_lifetime(lifetime)
{
    const bool anotherExists = s_instanceExists.exchange(true);
    Q_ASSERT_X(!anotherExists, "PosixSignalSource", "only one instance may exist at a time");
    Q_UNUSED(anotherExists);

    sigset_t current;
    pthread_sigmask(SIG_SETMASK, nullptr, &current);
    if (!sigismember(&current, SIGTERM)) {
        qCWarning(lcPosix, "earlyInit() was not called first: stop signals can land on, "
                           "and interrupt, any thread");
    }

    if (!makeSocketPair(m_signalFds) || !makeSocketPair(m_quitFds) || !makeSocketPair(m_wakeFds)) {
        qCCritical(lcPosix, "cannot create the signal pipes (%s): signals are not handled",
                   std::strerror(errno));
        return;
    }

    // Taken before the handler exists, so signals still pending from before this point count.
    m_notedStops = s_stopSignals.load();
    s_writeFd.store(m_signalFds[1]);
    s_wakeFd.store(m_wakeFds[1]);
    for (const SignalRoute &route : kRoutes)
        setDisposition(route.signal, handleSignal);
    m_handlersInstalled = true;

    m_notifier = new QSocketNotifier(m_signalFds[0], QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &PosixSignalSource::readSignals);

    // Started last: the first thing it does is take the signals pending since earlyInit(), and
    // by now there is a handler and a pipe for them. The notifier fires once the loop runs.
    try {
        m_deliveryThread = std::thread([this] { deliveryLoop(); });
    } catch (const std::system_error &error) {
        qCCritical(lcPosix, "cannot start the signal delivery thread (%s): signals stay pending",
                   error.what());
    }
}

PosixSignalSource::~PosixSignalSource()
{
    delete m_notifier; // before its descriptor is closed
    m_notifier = nullptr;

    if (m_deliveryThread.joinable()) {
        const char quit = 'q';
        while (::write(m_quitFds[1], &quit, 1) < 0 && errno == EINTR) { }
        m_deliveryThread.join();
    }
    // From here no thread has the signals unblocked, so the handler cannot be running.
    if (m_handlersInstalled) {
        for (const SignalRoute &route : kRoutes)
            setDisposition(route.signal, SIG_DFL);
    }
    s_writeFd.store(-1);
    s_wakeFd.store(-1);
    for (int *pair : {m_signalFds, m_quitFds, m_wakeFds}) {
        closeFd(pair[0]);
        closeFd(pair[1]);
    }
    s_instanceExists.store(false);
}

// The delivery thread also posts this, at high priority, on every wake-up. Under load the
// host thread can spend hundreds of milliseconds in one pass over posted events (replies
// finishing on 150+ network threads keep adding to it) before its socket notifiers are looked
// at; a high-priority posted event is taken within that pass.
const QEvent::Type SignalsPending = QEvent::Type(QEvent::registerEventType());

bool PosixSignalSource::event(QEvent *e)
{
    if (e->type() == SignalsPending) {
        readSignals();   // the pipe may be empty already: the notifier was first
        return true;
    }
    return QObject::event(e);
}

void PosixSignalSource::readSignals()
{
    // A slot connected to the Lifetime may delete this source (or spin a nested loop that does).
    const QPointer<PosixSignalSource> alive(this);
    unsigned char buffer[64];
    for (;;) {
        const ssize_t count = ::read(m_signalFds[0], buffer, sizeof buffer);
        if (count < 0 && errno == EINTR)
            continue;
        if (count <= 0)
            return; // EAGAIN: drained
        for (ssize_t i = 0; i < count; ++i) {
            const SignalRoute *route = routeFor(buffer[i]);
            if (!route)
                continue;
            const QString source = QString::fromLatin1(route->name);
            switch (route->request) {
            case Request::Stop:
                m_lifetime.requestStop(StopReason{source});
                break;
            case Request::Reload:
                m_lifetime.requestReload(source);
                break;
            case Request::Dump:
                m_lifetime.requestDump(source);
                break;
            }
            if (!alive)
                return;
        }
    }
}

void PosixSignalSource::deliveryLoop()
{
    // The one thread that takes the signals, so the handler always runs here. It wakes this
    // thread through the wake pipe (and the host thread through the signal pipe).
    const sigset_t waitMask = prepareDeliveryThread();
    pollfd fds[2] = {{m_quitFds[0], POLLIN, 0}, {m_wakeFds[0], POLLIN, 0}};
    for (;;) {
        const int ready = waitForWake(fds, 2, waitMask);
        const int error = errno;
        if (fds[1].revents & POLLIN) {
            unsigned char drain[64];
            while (::read(m_wakeFds[0], drain, sizeof drain) > 0) { }
        }
        // A normal thread context (the handler has returned), so calling into the Lifetime is
        // allowed. Checked on every wake-up, the last one included.
        for (const int stops = s_stopSignals.load(); m_notedStops < stops; ++m_notedStops)
            m_lifetime.noteStopFromAnyThread();
        if (fds[1].revents & POLLIN)
            QCoreApplication::postEvent(this, new QEvent(SignalsPending), Qt::HighEventPriority);
        if (ready > 0 && (fds[0].revents & POLLIN))
            break;
        if (ready < 0 && error != EINTR && error != EAGAIN && error != ENOMEM) {
            qCCritical(lcPosix, "signal delivery stopped: waiting failed: %s", std::strerror(error));
            break;
        }
    }
    // Blocked again before the thread ends: a signal arriving from now on stays pending for the
    // process instead of running the handler while the source is being torn down.
    const sigset_t routed = routedSignals();
    pthread_sigmask(SIG_BLOCK, &routed, nullptr);
}

} // namespace berth::platform
