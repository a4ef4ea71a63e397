// The libcuda stand-in's streams and events (fake_libcuda.cpp): work runs
// late, as on a GPU. A launch, copy, memset or event record is queued on
// its stream and runs when the host waits for it; then the queues run one
// item at a time, each stream in its own order, a cuStreamWaitEvent holding
// its stream until the event's record has run. Which stream goes next when
// several could is SLIMMABLE_FAKE_CUDA_STREAMS: `oldest` (default: the one
// created first, the null stream before any other), `newest` (the one
// created last), or `eager` (each call runs at once, in the order made). A
// missing event wait between two streams shows as a wrong result under one
// of the first two: under `newest` the second stream's work overtakes the
// first's earlier work, under `oldest` the first's later work overtakes the
// second's.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>

// An event's records are numbered as they are queued (1, 2, ...). A wait
// holds for the record that was the newest when it was queued, not for any
// later one: an event re-recorded on another stream can complete its
// records out of order, and a driver releases each wait by its own record.
struct Event {
    std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();
    unsigned long long recorded = 0;         // records queued
    std::set<unsigned long long> completed;  // the records that have run
    // Whether record `generation` has run (0: none was queued, nothing to wait for).
    bool ran(unsigned long long generation) const {
        return generation == 0 || completed.count(generation) != 0;
    }
    bool newest_ran() const { return ran(recorded); }
};

// One queued item: run `work`, or mark `event`'s record `generation` as
// run, or wait until it has been.
struct Work {
    enum Kind { RUN, RECORD, WAIT } kind;
    std::function<void()> work;
    std::shared_ptr<Event> event;
    unsigned long long generation = 0;
};

struct Stream {
    unsigned long long created = 0;  // creation order; the null stream is 0
    std::deque<Work> queue;
};

enum class StreamOrder { OLDEST, NEWEST, EAGER };

inline StreamOrder stream_order() {
    static const StreamOrder order = [] {
        const char* v = std::getenv("SLIMMABLE_FAKE_CUDA_STREAMS");
        if (!v || !*v || std::strcmp(v, "oldest") == 0) return StreamOrder::OLDEST;
        if (std::strcmp(v, "newest") == 0) return StreamOrder::NEWEST;
        if (std::strcmp(v, "eager") == 0) return StreamOrder::EAGER;
        std::fprintf(stderr, "fake libcuda: SLIMMABLE_FAKE_CUDA_STREAMS=%s: use oldest, newest or eager\n", v);
        std::exit(2);
    }();
    return order;
}

// Every stream of the one context and the work queued on them. Not
// locked: the driver calls it under its own lock.
class Streams {
public:
    // The stream a handle names: 0 and the legacy and per-thread handles
    // (1, 2) are the null stream, which one context does not split.
    Stream* find(void* handle) {
        if (uintptr_t(handle) <= 2) return &null_stream_;
        auto it = streams_.find(handle);
        return it == streams_.end() ? nullptr : it->second.get();
    }

    void* create() {
        auto s = std::make_unique<Stream>();
        s->created = ++created_;
        void* handle = s.get();
        streams_[handle] = std::move(s);
        return handle;
    }

    // False for the null stream or an unknown handle. Its queued work still
    // runs first, as on a GPU.
    bool destroy(void* handle) {
        Stream* s = find(handle);
        if (!s || s == &null_stream_) return false;
        run_until([&] { return s->queue.empty(); });
        streams_.erase(handle);
        return true;
    }

    void queue(Stream* s, Work w) {
        s->queue.push_back(std::move(w));
        if (stream_order() == StreamOrder::EAGER) run_all();
    }

    // Queues `work` on `s`; with `wait`, runs the queues until it has run
    // (a copy into pageable host memory returns only then, as on a GPU).
    void submit(Stream* s, std::function<void()> work, bool wait) {
        auto ran = std::make_shared<bool>(false);
        auto item = [work = std::move(work), ran] {
            work();
            *ran = true;
        };
        queue(s, {Work::RUN, item, nullptr, 0});
        if (wait) run_until([&] { return *ran; });
    }

    // Runs queued items one at a time, the next one from the stream that
    // stream_order() puts first among those that can go on, until `done`.
    void run_until(const std::function<bool()>& done) {
        while (!done()) {
            Stream* next = nullptr;
            auto consider = [&](Stream* s) {
                if (!runnable(*s)) return;
                const bool newer = next && s->created > next->created;
                if (!next || (stream_order() == StreamOrder::NEWEST) == newer) next = s;
            };
            consider(&null_stream_);
            for (auto& entry : streams_) consider(entry.second.get());
            if (!next) {
                // Cannot happen: a wait names a record queued before it.
                std::fprintf(stderr, "fake libcuda: queued work waits for an event that no stream will record\n");
                std::abort();
            }
            Work w = std::move(next->queue.front());
            next->queue.pop_front();
            if (w.kind == Work::RUN) w.work();
            if (w.kind == Work::RECORD) {
                w.event->completed.insert(w.generation);
                // The event's time is its newest record's: an older one
                // that runs after it leaves the time alone.
                if (w.generation == w.event->recorded) w.event->at = std::chrono::steady_clock::now();
            }
        }
    }

    void run_all() {
        run_until([&] {
            if (!null_stream_.queue.empty()) return false;
            for (auto& entry : streams_)
                if (!entry.second->queue.empty()) return false;
            return true;
        });
    }

private:
    static bool runnable(const Stream& s) {
        if (s.queue.empty()) return false;
        const Work& w = s.queue.front();
        return w.kind != Work::WAIT || w.event->ran(w.generation);
    }

    Stream null_stream_;
    std::map<void*, std::unique_ptr<Stream>> streams_;
    unsigned long long created_ = 0;
};
