using OrleansCrates.Mirror.Coordination;

namespace OrleansCrates.Mirror.Tests;

public class SingleFlightTests
{
    [Fact]
    public async Task Concurrent_callers_share_one_run()
    {
        var flights = new SingleFlight<string, int>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;
        var joined = Enumerable.Range(0, 100).Select(_ => flights.Join("k", async () =>
        {
            Interlocked.Increment(ref runs);
            await gate.Task;
            return 42;
        })).ToList();

        Assert.Single(joined, j => j.Started);
        gate.SetResult();
        var results = await Task.WhenAll(joined.Select(j => j.Task));
        Assert.All(results, r => Assert.Equal(42, r));
        Assert.Equal(1, runs);
        Assert.Equal(0, flights.InFlightCount);
    }

    [Fact]
    public async Task Every_waiter_gets_the_same_exception()
    {
        var flights = new SingleFlight<string, int>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = flights.Join("k", async () => { await gate.Task; throw new InvalidOperationException("upstream exploded"); });
        var second = flights.Join("k", () => Task.FromResult(1));
        gate.SetResult();

        var a = await Assert.ThrowsAsync<InvalidOperationException>(() => first.Task);
        var b = await Assert.ThrowsAsync<InvalidOperationException>(() => second.Task);
        Assert.Same(a, b);
    }

    [Fact]
    public async Task A_waiter_giving_up_does_not_cancel_the_work()
    {
        var flights = new SingleFlight<string, string>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var leader = flights.Join("k", async () => { await gate.Task; return "done"; });
        var follower = flights.Join("k", () => Task.FromResult("never"));

        using var leaderClient = new CancellationTokenSource();
        var leaderWait = leader.Task.WaitAsync(leaderClient.Token);
        leaderClient.Cancel(); // the client that started the work disconnects
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaderWait);

        gate.SetResult();
        Assert.Equal("done", await follower.Task);
    }

    [Fact]
    public async Task Finished_work_is_not_reused_for_later_callers()
    {
        var flights = new SingleFlight<string, int>();
        var runs = 0;
        await flights.Join("k", () => Task.FromResult(Interlocked.Increment(ref runs))).Task;
        await flights.Join("k", () => Task.FromResult(Interlocked.Increment(ref runs))).Task;
        Assert.Equal(2, runs);
    }

    [Fact]
    public async Task Different_keys_run_independently()
    {
        var flights = new SingleFlight<string, string>();
        var a = flights.Join("a", () => Task.FromResult("A"));
        var b = flights.Join("b", () => Task.FromResult("B"));
        Assert.True(a.Started && b.Started);
        Assert.Equal(["A", "B"], await Task.WhenAll(a.Task, b.Task));
    }
}
