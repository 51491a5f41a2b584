namespace Transformation.Grains.FunctionalTests;

public interface IReminderTestGrain : IGrainWithStringKey
{
    Task RegisterAsync(TimeSpan dueTime, TimeSpan period);
}

/// <summary>What the silo's reminder ticks reached: the first tick's grain key and reminder name.</summary>
public sealed class ReminderProbe
{
    public TaskCompletionSource<string> Fired { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public sealed class ReminderTestGrain(ReminderProbe probe) : Grain, IReminderTestGrain, IRemindable
{
    public async Task RegisterAsync(TimeSpan dueTime, TimeSpan period) => await this.RegisterOrUpdateReminder("tick", dueTime, period);

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        probe.Fired.TrySetResult(this.GetPrimaryKeyString() + "/" + reminderName);
        return Task.CompletedTask;
    }
}
