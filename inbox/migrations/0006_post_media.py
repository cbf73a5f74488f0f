from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inbox", "0005_search")]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="post_media_url",
            field=models.URLField(blank=True, default="", max_length=1000),
        ),
    ]
