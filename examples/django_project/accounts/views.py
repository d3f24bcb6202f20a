from django import forms
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from redisq.django import enqueue_on_commit

from .models import Member
from .tasks import send_welcome_email


class SignupForm(forms.Form):
    email = forms.EmailField()
    name = forms.CharField(max_length=100)


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                member = Member.objects.create(**form.cleaned_data)
                # Enqueued when the transaction commits: the job never looks for a row that is not there
                # yet, and is never sent for a signup that rolled back.
                enqueue_on_commit(send_welcome_email.call(member.pk))
        except IntegrityError:
            form.add_error("email", "This email has already signed up.")
        else:
            return JsonResponse({"member": member.pk}, status=201)
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)
