using Microsoft.Extensions.Options;
using BaselineService = Transformation.Baselines.Api.Grpc.BaselineService;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>
/// Opens the pulse recurrences' occurrences as they fall due, checked every <see cref="SurveyOptions.RecurrenceCheckInterval"/>
/// (see <see cref="BaselineService.OpenDueOccurrencesAsync"/>: once each, whatever the restarts or replicas).
/// </summary>
public sealed partial class SurveyRecurrenceScheduler(BaselineService service, IOptions<BaselinesOptions> options, TimeProvider time,
    ILogger<SurveyRecurrenceScheduler> logger) : BackgroundService
{
    private readonly SurveyOptions _options = options.Value.Surveys;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await service.OpenDueOccurrencesAsync(stoppingToken);
                await Task.Delay(_options.RecurrenceCheckInterval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                LogFailed(exception);
                await Task.Delay(options.Value.Mail.RetryDelay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Opening the pulse recurrences' due occurrences failed; tried again shortly.")]
    private partial void LogFailed(Exception exception);
}
