using System.Diagnostics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// Whether loops run as their kinds' judges choose (<see cref="ParallelJudge"/>) or every one of them opened to the
/// workers, learned from stretches of time spent in each regime rather than from single loops.
/// </summary>
/// <remarks>
/// <para>
/// Why a second judge: beside a busy process sharing the cores with equal weight (the same autogroup or cgroup), a
/// worker kept in every loop gets the process about 4/3 of a core, and steps run up to 1.2–1.4× faster than on one
/// thread; yet each kind's judge sends its loops alone there, because a parallel probe among loops run alone finds
/// the worker's core taken by the other process, and a loop's own time does not show what keeping the worker in the
/// game buys between loops. A regime can only be measured as a regime: after it settles, over tens of milliseconds,
/// including the work between loops.
/// </para>
/// <para>
/// Time is cut into epochs of <see cref="EpochTicks"/> of counted time. An epoch's score is its wall time (its loops
/// and the gaps between them, a gap longer than <see cref="IdleTicks"/> being idle time, not counted) over what its
/// loops would have taken alone at their kinds' mean alone pace: lower is faster, and loops of every kind and size
/// count in the same currency. The better regime runs; after <see cref="MinProbeGap"/> of its epochs the other is run
/// for <see cref="ProbeEpochs"/> epochs after <see cref="SettleTicks"/> of settling, and the regimes swap if it scored
/// better by <see cref="SwitchMargin"/>. Probes that lose come at doubling gaps, up to <see cref="CloseProbeGap"/>
/// epochs while the regimes are within <see cref="CloseFactor"/> of each other and <see cref="MaxProbeGap"/> beyond.
/// The loops-as-judged regime is where it starts (it is never worse on a quiet machine, where the kinds' judges open
/// nearly every loop anyway), and a probe of the other that runs more than <see cref="AbortFactor"/> times slower than
/// alone (a worker stalled by a process holding its core) ends at once, so such a probe costs a few milliseconds in
/// every ~1.3 s.
/// </para>
/// <para>Not thread-safe: KernelParallel holds its loop while it chooses, runs and records.</para>
/// </remarks>
internal struct ParallelRegime
{
    /// <summary>Counted time per epoch.</summary>
    internal static readonly long EpochTicks = Stopwatch.Frequency / 50; // 20 ms
    /// <summary>Time not counted after a change of regime or an idle gap: workers waking or going to sleep, and the
    /// OS scheduler moving the process's threads, take a few milliseconds to reach the new regime's steady state.</summary>
    internal static readonly long SettleTicks = Stopwatch.Frequency / 200; // 5 ms
    /// <summary>A gap between loops longer than this is the caller idle or busy elsewhere (no loop of this process to
    /// run), not the serial work of a step; it is not counted, and what follows settles again.</summary>
    internal static readonly long IdleTicks = Stopwatch.Frequency / 1_000; // 1 ms
    internal const int MinProbeGap = 4;
    internal const int MaxProbeGap = 64;
    /// <summary>Epochs between probes at most after a probe that lost by less than <see cref="CloseFactor"/>: the
    /// regimes are close, and a probe is what finds the other one better as a neighbour comes or goes.</summary>
    internal const int CloseProbeGap = 16;
    internal const double CloseFactor = 1.05;
    /// <summary>A probe's counted time, in epochs: one epoch's score is too noisy to switch on.</summary>
    internal const int ProbeEpochs = 2;
    /// <summary>A probed regime takes over only if its score is below this share of the running one's.</summary>
    internal const double SwitchMargin = 0.97;
    internal const double AbortFactor = 2;
    /// <summary>What a probe may cost beyond <see cref="AbortFactor"/> before it is ended.</summary>
    internal static readonly long AbortSlackTicks = Stopwatch.Frequency / 1_000; // 1 ms
    /// <summary>The running regime's score is a moving mean over about this many of its epochs.</summary>
    internal const int ScoreWindow = 4;

    private bool _allParallel;        // the regime that runs, when not probing: every loop opened to the workers
    private bool _probing;            // this epoch runs the other regime
    private long _lastEnd;            // when the last recorded loop ended (0: none yet)
    private long _settleUntil;        // loops starting before then are not counted
    private double _wall, _aloneTime; // the counted part of this epoch: ticks, and its loops' ticks alone
    private double _probeWall, _probeAlone; // the whole probe so far, settling included
    private double _score;            // the running regime's wall ÷ alone time, a mean over its last epochs
    private int _scoreEpochs;
    private int _sinceProbe;          // epochs of the running regime since the last probe
    private int _probeGap;            // epochs between probes (0: MinProbeGap, not yet set)

    /// <summary>Whether loops are to be opened to the workers whatever their kinds' judges say.</summary>
    public readonly bool AllParallel => _allParallel != _probing;

    /// <summary>The running regime's score (wall time over alone time; 0 until an epoch is done), whether it is the
    /// every-loop-parallel one, and epochs between probes of the other.</summary>
    public readonly (double Score, bool AllParallel, int ProbeGap) Describe() =>
        (_score, _allParallel, Math.Max(_probeGap, MinProbeGap));

    /// <summary>
    /// Records a loop that ran from start to end (timestamps) in the regime <see cref="AllParallel"/> said; aloneTicks is
    /// what its kind's loops of its work take alone on average (≤ 0 when not known yet: the loop is then not counted).
    /// otherCallers: loops of other threads ran alone since the last record because this one held the workers.
    /// Returns whether the regime changed (a probe began or ended).
    /// </summary>
    public bool Record(long start, long end, double aloneTicks, bool otherCallers = false)
    {
        if (_probeGap == 0) _probeGap = MinProbeGap;
        if (otherCallers) return Contended(end);
        long gap = _lastEnd == 0 ? long.MaxValue : start - _lastEnd;
        _lastEnd = end;
        if (gap > IdleTicks)
        {
            // What ran before the gap is not this stream's steady state any more.
            _settleUntil = Math.Max(_settleUntil, start + SettleTicks);
            gap = 0;
        }
        if (!(aloneTicks > 0)) return false;

        if (_probing)
        {
            _probeWall += end - start + gap;
            _probeAlone += aloneTicks;
            if (_probeWall > AbortFactor * _probeAlone + AbortSlackTicks)
            {
                EndProbe(won: false, probeScore: 0, end);
                return true;
            }
        }
        if (start < _settleUntil) return false;

        _wall += end - start + gap;
        _aloneTime += aloneTicks;
        if (_wall < (_probing ? ProbeEpochs * EpochTicks : EpochTicks)) return false;

        double score = _wall / _aloneTime;
        _wall = _aloneTime = 0;
        if (_probing)
        {
            EndProbe(won: score < _score * SwitchMargin, score, end);
            return true;
        }
        if (_scoreEpochs < ScoreWindow) _scoreEpochs++;
        _score += (score - _score) / _scoreEpochs;
        if (++_sinceProbe < _probeGap) return false;
        _probing = true;
        _probeWall = _probeAlone = 0;
        _settleUntil = end + SettleTicks;
        return true;
    }

    /// <summary>
    /// Several threads run loops at once (a server's requests): the cores are shared among them, and a worker kept in
    /// one caller's every loop takes its core from the others' work, which this caller's clock does not see (measured:
    /// 6–9% fewer steps a second on 16 sessions over HTTP). Loops go back to their kinds' judges, and the regime is
    /// measured afresh once one caller is alone again.
    /// </summary>
    private bool Contended(long now)
    {
        bool changed = AllParallel;
        _allParallel = _probing = false;
        _wall = _aloneTime = 0;
        _score = 0;
        _scoreEpochs = _sinceProbe = 0;
        _lastEnd = now;
        _settleUntil = now + SettleTicks;
        return changed;
    }

    private void EndProbe(bool won, double probeScore, long now)
    {
        _probing = false;
        _sinceProbe = 0;
        _wall = _aloneTime = 0;
        if (won)
        {
            // Already running the new regime, settled: no need to settle again.
            _allParallel = !_allParallel;
            _score = probeScore;
            _scoreEpochs = 1;
            _probeGap = MinProbeGap;
        }
        else
        {
            _probeGap = Math.Min(_probeGap * 2, probeScore > 0 && probeScore < _score * CloseFactor ? CloseProbeGap : MaxProbeGap);
            _settleUntil = now + SettleTicks;
        }
    }
}
