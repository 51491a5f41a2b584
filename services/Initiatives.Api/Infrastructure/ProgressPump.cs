using Transformation.Initiatives.Api.Grains;

namespace Transformation.Initiatives.Api.Infrastructure;

/// <summary>
/// Drives the initiative grains' folds: after observations commit (signalled), and every second regardless (observations
/// written by other instances, transactions that were still open at the last fold, a restart), every active initiative
/// catches up with the observation log (and every proposed, sponsored or active one with the survey scores published).
/// </summary>
public sealed partial class ProgressPump(InitiativesDatabase database, IGrainFactory grains, ILogger<ProgressPump> logger) : BackgroundService
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan AfterSignal = TimeSpan.FromMilliseconds(50);
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Signal()
    {
        try
        {
            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await _signal.WaitAsync(Idle, stoppingToken))
                {
                    await Task.Delay(AfterSignal, stoppingToken);
                }

                foreach (var id in await ActiveAsync(stoppingToken))
                {
                    await grains.GetGrain<IInitiativeGrain>(id).CatchUpAsync();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogFailed(exception);
            }
        }
    }

    private async Task<List<string>> ActiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        // Active ones fold observations; proposed and sponsored ones too read survey scores Baselines publishes.
        await using var command = connection.Command(null,
            "SELECT actor_id FROM actor_state WHERE actor_type = 'initiative' AND (state->>'status')::int IN (1, 2, 3)");
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    public override void Dispose()
    {
        _signal.Dispose();
        base.Dispose();
    }

    [LoggerMessage(LogLevel.Warning, "A progress fold failed; it is retried on the next tick.")]
    private partial void LogFailed(Exception exception);
}
