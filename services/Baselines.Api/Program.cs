using Transformation.Baselines.Api;

var builder = WebApplication.CreateBuilder(args);
builder.AddBaselinesService();
var app = builder.Build();
app.MapBaselinesService();
app.Run();

public partial class Program;
