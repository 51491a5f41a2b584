using Transformation.Notifications.Api;

var builder = WebApplication.CreateBuilder(args);
builder.AddNotificationsService();
var app = builder.Build();
app.MapNotificationsService();
app.Run();

public partial class Program;
